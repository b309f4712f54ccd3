#!/usr/bin/env bash
# IMAP, Mailroom against Dovecot, side by side on this machine (docs/benchmarks.md, "IMAP",
# says how to read the output; /work/shared/reference/benchmarks.md why it is set up so).
#
# Run as root on Debian:  bash bench/imap-vs-dovecot.sh
#
# In a private temporary folder and on 127.0.0.1 only, it sets up
#   - Dovecot with its own config file and base dir (the lines of smtp-vs-postfix.sh, IMAP
#     only): Maildir, a passwd-file user, tuned as Dovecot's performance notes say, IMAPS;
#   - Mailroom (mailroom init, user add, IMAPS on a loopback port);
# fills both with the same messages: `mailbench maildir` writes a Maildir once, Mailroom
# gets it with `mailroom import`, Dovecot gets a copy of the files as its INBOX (it gives
# them UIDs in name order, as the import does). Then:
#   1. the mix (`mailbench imap`), RUNS times each, alternating Mailroom, Dovecot, each
#      run from a fresh copy of the MIX_MESSAGES-message mailbox;
#   2. `mailbench imap-fetchall` on a FETCH_MESSAGES-message INBOX, once per server
#      (FETCH_RUNS fresh connections; the first is the figure);
#   3. `mailbench imap-idle`: the server's memory (VmRSS of Mailroom; the sum of Pss of
#      all of Dovecot's processes) before and while IDLE_CONNS connections idle.
# It prints every run, the medians and ratios, and stops everything it started on exit.
#
# Settings (environment): RUNS=3 CLIENTS=50 DURATION=30s MIX= (mailbench's default mix)
# MIX_MESSAGES=2000 MIX_SIZE=10KB FETCH_MESSAGES=100000 FETCH_SIZE=2KB FETCH_RUNS=3
# IDLE_CONNS="10000" (Mailroom) DC_IDLE_CONNS=1000 (Dovecot: one imap process per
# connection) IDLE_HOLD=20s STEPS="mix fetch idle" KEEP=1 (keep the temp folder)
# MAILROOM_BIN, MAILBENCH_BIN (prebuilt binaries; otherwise built from this checkout)
# MR_FETCH_DATA (a Mailroom data dir already holding the fetch mailbox, reused as is, and
# FETCH_MAILDIR the Maildir it was imported from: importing 100,000 messages takes long).
set -euo pipefail

RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-50}
DURATION=${DURATION:-30s}
MIX=${MIX:-}
MIX_MESSAGES=${MIX_MESSAGES:-2000}
MIX_SIZE=${MIX_SIZE:-10KB}
FETCH_MESSAGES=${FETCH_MESSAGES:-100000}
FETCH_SIZE=${FETCH_SIZE:-2KB}
FETCH_RUNS=${FETCH_RUNS:-3}
IDLE_CONNS=${IDLE_CONNS:-10000}
DC_IDLE_CONNS=${DC_IDLE_CONNS:-1000}
IDLE_HOLD=${IDLE_HOLD:-20s}
STEPS=${STEPS:-"mix fetch idle"}
KEEP=${KEEP:-0}

DOMAIN=bench.test
USER_LOCAL=bench
ADDR="$USER_LOCAL@$DOMAIN"
PASSWORD=Tidy-Harbour-2026

# Shared helpers (log, die, port_free, median, ratio, ...); the definitions below
# that differ from lib.sh's are this script's own and take precedence.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root (Dovecot needs it)"
command -v dovecot >/dev/null || die "install dovecot-imapd (bench/smtp-vs-postfix.sh shows how without starting the system's instance)"
REPO=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:/usr/sbin:/sbin:$PATH"
# Each IDLE connection is a descriptor in the server and one in mailbench.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

T=$(mktemp -d /tmp/mailbench-imap.XXXXXX)
chmod 755 "$T"
DC=$T/dovecot MR=$T/mailroom
MAILROOM_PID=
BENCH_PID=
cleanup() {
  set +e
  [ -n "$BENCH_PID" ] && kill "$BENCH_PID" 2>/dev/null
  stop_mailroom
  stop_dovecot
  if [ "$KEEP" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$T/bin"
if [ -z "${MAILROOM_BIN:-}" ] || [ -z "${MAILBENCH_BIN:-}" ]; then
  log "building mailroom and mailbench from $REPO"
  (cd "$REPO" && go build -o "$T/bin/" ./cmd/mailroom ./cmd/mailbench)
fi
MAILROOM=${MAILROOM_BIN:-$T/bin/mailroom}
MAILBENCH=${MAILBENCH_BIN:-$T/bin/mailbench}

taken=" "
pick_port() {
  local p
  for _ in $(seq 200); do
    p=$(( 20000 + RANDOM % 10000 )) # below the ephemeral range the IDLE clients use
    if [[ $taken != *" $p "* ]] && port_free "$p"; then taken+="$p "; printf -v "$1" %s "$p"; return; fi
  done
  die "no free port"
}
wait_port() {
  for _ in $(seq 600); do
    if ! port_free "$1"; then return 0; fi
    sleep 0.1
  done
  die "$2 is not listening on 127.0.0.1:$1"
}
pick_port DC_IMAPS; pick_port MR_IMAPS; pick_port MR_SMTP; pick_port MR_DNS

mkdir -p "$T/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mx.$DOMAIN" \
  -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" 2>/dev/null
chmod 644 "$T/tls/cert.pem" "$T/tls/key.pem"

# ---------------------------------------------------------------------------------------
# The messages: written once, given to both servers.
MD_MIX=$T/maildir-mix
"$MAILBENCH" maildir --dir "$MD_MIX" --count "$MIX_MESSAGES" --size "$MIX_SIZE" --to "$ADDR" >/dev/null
if [ -n "${MR_FETCH_DATA:-}" ]; then
  [ -n "${FETCH_MAILDIR:-}" ] || die "MR_FETCH_DATA needs FETCH_MAILDIR"
  MD_FETCH=$FETCH_MAILDIR
else
  MD_FETCH=$T/maildir-fetch
  case " $STEPS " in *" fetch "*)
    "$MAILBENCH" maildir --dir "$MD_FETCH" --count "$FETCH_MESSAGES" --size "$FETCH_SIZE" --to "$ADDR" >/dev/null ;;
  esac
fi

# ---------------------------------------------------------------------------------------
# Dovecot, as in smtp-vs-postfix.sh: own config and base dir, passwd-file user, tuned.
MAIL_UID=$(id -u mail); MAIL_GID=$(id -g mail)
DC_CONF=$DC/dovecot.conf
mkdir -p "$DC/run" "$DC/state" "$DC/home"
printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$ADDR" "$PASSWORD" "$MAIL_UID" "$MAIL_GID" "$DC/home/$USER_LOCAL" > "$DC/users"
chmod 640 "$DC/users"; chgrp dovecot "$DC/users"
ssl_dh=""
[ -f /usr/share/dovecot/dh.pem ] && ssl_dh="ssl_dh = </usr/share/dovecot/dh.pem"
DC_PROCS=$(( DC_IDLE_CONNS + CLIENTS + 100 ))
cat > "$DC_CONF" <<EOF
# Private Dovecot for mailbench; nothing here touches the system's instance.
instance_name = mailbench-dovecot-imap
base_dir = $DC/run
state_dir = $DC/state
protocols = imap
listen = 127.0.0.1
log_path = $DC/dovecot.log
ssl = yes
ssl_cert = <$T/tls/cert.pem
ssl_key = <$T/tls/key.pem
$ssl_dh
first_valid_uid = $MAIL_UID
mail_location = maildir:~/Maildir
auth_mechanisms = plain
auth_cache_size = 10M
# The benchmark's clients are all one user from one address: lift the default of 10.
protocol imap {
  mail_max_userip_connections = 100000
}
default_client_limit = $(( DC_PROCS * 2 ))
service auth {
  client_limit = $(( DC_PROCS * 2 ))
}
service anvil {
  client_limit = $(( DC_PROCS * 2 ))
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN $DC/users
}
userdb {
  driver = passwd-file
  args = $DC/users
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $DC_IMAPS
  }
  service_count = 0
  process_min_avail = 2
}
service imap {
  service_count = 100
  process_limit = $DC_PROCS
}
EOF

start_dovecot() { # MAILDIR
  rm -rf "$DC/home/$USER_LOCAL"
  install -d -o "$MAIL_UID" -g "$MAIL_GID" -m 700 "$DC/home/$USER_LOCAL"
  cp -a "$1" "$DC/home/$USER_LOCAL/Maildir"
  chown -R "$MAIL_UID:$MAIL_GID" "$DC/home/$USER_LOCAL/Maildir"
  dovecot -c "$DC_CONF" >>"$DC/start.log" 2>&1 </dev/null || { cat "$DC/start.log" >&2; die "dovecot did not start"; }
  wait_port "$DC_IMAPS" "Dovecot IMAPS"
}
stop_dovecot() {
  local pid
  [ -f "$DC/run/master.pid" ] || return 0
  pid=$(cat "$DC/run/master.pid")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$DC/run/master.pid"
}
dovecot_pss() { # kB: the sum of Pss of the master and all its descendants
  local master all p total=0 v
  master=$(cat "$DC/run/master.pid")
  all=$master
  for _ in 1 2 3 4; do
    for p in $all; do all+=" $(cat /proc/"$p"/task/*/children 2>/dev/null)"; done
    all=$(printf '%s\n' $all | sort -u | tr '\n' ' ')
  done
  for p in $all; do
    v=$(awk '/^Pss:/ { print $2 }' /proc/"$p"/smaps_rollup 2>/dev/null || true)
    total=$(( total + ${v:-0} ))
  done
  echo "$total $(printf '%s\n' $all | grep -c .)"
}

# ---------------------------------------------------------------------------------------
# Mailroom: loopback ports, a DNS "server" on a closed loopback port.
write_mailroom_config() { # DATA
  cat > "$1/mailroom.toml" <<EOF
hostname = "mx.$DOMAIN"
[log]
level = "warn"
format = "text"
[store]
backend = "sqlite"
path = "mailroom.db"
blobs = "blobs"
[tls]
cert = "$T/tls/cert.pem"
key = "$T/tls/key.pem"
extra = []
[smtp]
listen = ["127.0.0.1:$MR_SMTP"]
submission = []
submissions = []
max_message_size = "50MB"
relay_port = 25
[imap]
listen = []
tls_listen = ["127.0.0.1:$MR_IMAPS"]
[pop3]
listen = []
tls_listen = []
[http]
listen = []
tls_listen = []
[dns]
resolver = "127.0.0.1:$MR_DNS"
[limits]
shutdown_timeout = "10s"
EOF
}
make_mailroom() { # DATA MAILDIR
  "$MAILROOM" init --data "$1" --hostname "mx.$DOMAIN" --domain "$DOMAIN" >/dev/null
  write_mailroom_config "$1"
  printf '%s\n' "$PASSWORD" | "$MAILROOM" user add --data "$1" --password-stdin "$ADDR" >/dev/null
  "$MAILROOM" import --data "$1" --folder INBOX "$ADDR" "$2" >/dev/null
}
start_mailroom() { # DATA
  stop_mailroom
  "$MAILROOM" serve --data "$1" >"$T/mailroom-serve.log" 2>&1 &
  MAILROOM_PID=$!
  wait_port "$MR_IMAPS" "Mailroom IMAPS"
}
stop_mailroom() {
  [ -n "$MAILROOM_PID" ] || return 0
  kill "$MAILROOM_PID" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$MAILROOM_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$MAILROOM_PID" 2>/dev/null || true
  wait "$MAILROOM_PID" 2>/dev/null || true
  MAILROOM_PID=
}
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# ---------------------------------------------------------------------------------------
idle_cpu() {
  local a b
  read -ra a < <(head -1 /proc/stat); sleep 2; read -ra b < <(head -1 /proc/stat)
  local ta=0 tb=0 i
  for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
  awk -v i1="${a[4]}" -v i2="${b[4]}" -v w1="${a[5]}" -v w2="${b[5]}" -v t="$((tb - ta))" \
    'BEGIN { printf "%.1f", (t > 0 ? 100 * ((i2 - i1) + (w2 - w1)) / t : 0) }'
}
opfield() { # FILE OP FIELD: a field of one operation in the per_op list
  awk -v op="\"$2\"" -v f="\"$3\":" '$1 == "\"op\":" { cur = ($2 == op ",") } cur && $1 == f { gsub(/,/, "", $2); print $2; exit }' "$1"
}
RES=$T/results
mkdir -p "$RES"
AUTH=(--user "$ADDR" --password "$PASSWORD" --tls=implicit)

echo "mailbench IMAP comparison on $(hostname), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "Mailroom ${MAILROOM_REV:-$("$MAILROOM" version 2>/dev/null | head -1 || echo '?')} vs Dovecot $(dovecot --version | cut -d' ' -f1), IMAPS (implicit TLS) on both"
echo

# 1. The mix, A B A B.
mix_one() { # SERVER RUN
  local server=$1 run=$2 addr idle out
  case $server in
    mailroom)
      rm -rf "$MR"; make_mailroom "$MR" "$MD_MIX"; start_mailroom "$MR"; addr=127.0.0.1:$MR_IMAPS ;;
    dovecot)
      start_dovecot "$MD_MIX"; addr=127.0.0.1:$DC_IMAPS ;;
  esac
  sleep 1
  idle=$(idle_cpu)
  out=$RES/mix-$server-$run.json
  echo "== mix: $server, run $run (idle CPU before: $idle%)"
  timeout 600 "$MAILBENCH" imap --label "$server" --addr "$addr" "${AUTH[@]}" --clients "$CLIENTS" \
    --duration "$DURATION" ${MIX:+--mix "$MIX"} --size "$MIX_SIZE" --json-out "$out" ||
    echo "   (mailbench reported errors for this run)"
  case $server in mailroom) stop_mailroom ;; dovecot) stop_dovecot ;; esac
}
case " $STEPS " in *" mix "*)
  for run in $(seq "$RUNS"); do mix_one mailroom "$run"; mix_one dovecot "$run"; done ;;
esac

# 2. The big folder.
case " $STEPS " in *" fetch "*)
  nfetch=$(find "$MD_FETCH/cur" -type f | wc -l)
  if [ -n "${MR_FETCH_DATA:-}" ]; then
    MRF=$MR_FETCH_DATA; write_mailroom_config "$MRF"
  else
    MRF=$T/mailroom-fetch
    log "importing $nfetch messages into Mailroom"
    s=$SECONDS; make_mailroom "$MRF" "$MD_FETCH"; log "import took $((SECONDS - s)) s"
  fi
  start_mailroom "$MRF"
  echo "== fetchall: mailroom ($nfetch messages)"
  timeout 900 "$MAILBENCH" imap-fetchall --label mailroom --addr "127.0.0.1:$MR_IMAPS" "${AUTH[@]}" \
    --runs "$FETCH_RUNS" --json-out "$RES/fetch-mailroom.json" || echo "   (errors)"
  stop_mailroom
  start_dovecot "$MD_FETCH"
  echo "== fetchall: dovecot ($nfetch messages; its index is built by the first SELECT)"
  timeout 900 "$MAILBENCH" imap-fetchall --label dovecot --addr "127.0.0.1:$DC_IMAPS" "${AUTH[@]}" \
    --runs "$FETCH_RUNS" --json-out "$RES/fetch-dovecot.json" || echo "   (errors)"
  stop_dovecot ;;
esac

# 3. Memory per idle IDLE connection.
idle_one() { # SERVER CONNS
  local server=$1 n=$2 addr before after ready=$T/idle-ready out=$RES/idle-$1-$2.json
  rm -f "$ready"
  case $server in
    mailroom) rm -rf "$MR"; make_mailroom "$MR" "$MD_MIX"; start_mailroom "$MR"; addr=127.0.0.1:$MR_IMAPS ;;
    dovecot) start_dovecot "$MD_MIX"; addr=127.0.0.1:$DC_IMAPS ;;
  esac
  # One session first, so that what is measured is the connections, not the first
  # opening of the mailbox.
  "$MAILBENCH" imap-fetchall --addr "$addr" "${AUTH[@]}" >/dev/null || true
  sleep 2
  case $server in mailroom) before=$(rss "$MAILROOM_PID") ;; dovecot) read -r before _ < <(dovecot_pss) ;; esac
  echo "== idle: $server, $n connections"
  "$MAILBENCH" imap-idle --label "$server" --addr "$addr" "${AUTH[@]}" --conns "$n" --hold "$IDLE_HOLD" \
    --sample $((n < 100 ? n : 100)) --ready-file "$ready" --json-out "$out" &
  BENCH_PID=$!
  for _ in $(seq 1200); do [ -f "$ready" ] || ! kill -0 "$BENCH_PID" 2>/dev/null && break; sleep 0.5; done
  sleep 3
  case $server in
    mailroom) after=$(rss "$MAILROOM_PID"); procs=1 ;;
    dovecot) read -r after procs < <(dovecot_pss) ;;
  esac
  wait "$BENCH_PID" || echo "   (mailbench reported errors for this run)"
  BENCH_PID=
  echo "   server memory: before $before kB, while idling $after kB ($procs processes) = $(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }') kB per connection"
  echo "$before $after" > "$RES/idle-$server-$n.mem"
  case $server in mailroom) stop_mailroom ;; dovecot) stop_dovecot ;; esac
}
case " $STEPS " in *" idle "*)
  for n in $IDLE_CONNS; do idle_one mailroom "$n"; done
  for n in $DC_IDLE_CONNS; do idle_one dovecot "$n"; done ;;
esac

# ---------------------------------------------------------------------------------------
echo
case " $STEPS " in *" mix "*)
  echo "== Mix summary (median of $RUNS runs; ratio = Mailroom / Dovecot; ops/s higher is better, ms lower)"
  printf '%-13s %-8s %10s %10s %7s\n' operation figure Mailroom Dovecot ratio
  for op in overall select fetchflags fetchheaders fetchbody store append search expunge idle; do
    for f in per_s p50_ms p99_ms; do
      [ "$op" = overall ] && [ "$f" != per_s ] && continue
      declare -a m=() d=()
      for run in $(seq "$RUNS"); do
        for s in mailroom dovecot; do
          file=$RES/mix-$s-$run.json
          if [ "$op" = overall ]; then v=$(jfield ops_per_s "$file" 2>/dev/null); else v=$(opfield "$file" "$op" "$f" 2>/dev/null); fi
          if [ $s = mailroom ]; then m+=("${v:-0}"); else d+=("${v:-0}"); fi
        done
      done
      mm=$(median "${m[@]}"); dm=$(median "${d[@]}")
      printf '%-13s %-8s %10.2f %10.2f %7s\n' "$op" "$f" "$mm" "$dm" "$(ratio "$mm" "$dm")"
    done
  done
  echo "errors per run (Mailroom / Dovecot):"
  for run in $(seq "$RUNS"); do echo "  run $run: $(jfield errors "$RES/mix-mailroom-$run.json") / $(jfield errors "$RES/mix-dovecot-$run.json")"; done ;;
esac
case " $STEPS " in *" fetch "*)
  fm=$(jfield fetch_ms "$RES/fetch-mailroom.json" 2>/dev/null); fd=$(jfield fetch_ms "$RES/fetch-dovecot.json" 2>/dev/null)
  echo "== fetchall, first fresh client: UID FETCH 1:* (FLAGS ENVELOPE) Mailroom ${fm:-?} ms, Dovecot ${fd:-?} ms (ratio Dovecot/Mailroom $(ratio "${fd:-0}" "${fm:-0}"))" ;;
esac
