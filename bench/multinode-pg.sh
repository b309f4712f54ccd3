#!/usr/bin/env bash
# PostgreSQL: one Mailroom node against two nodes on the same database (issue #6;
# docs/benchmarks.md, "PostgreSQL: one node versus two", says how to read the output).
#
# Run on Debian with the postgresql package (initdb, pg_ctl, pg_stat_statements):
#   bash bench/multinode-pg.sh
# As root the cluster runs as the postgres OS user (PostgreSQL refuses root).
#
# In a private temporary folder and on 127.0.0.1 only, it starts a throw-away PostgreSQL
# cluster (fsync on, pg_stat_statements loaded) and then, RUNS times, alternating:
#   1 node:  a fresh database, one `mailroom serve` on it;
#   2 nodes: a fresh database, two `mailroom serve` on it, each with its own data
#            directory and ports; the load generator spreads its connections over both.
# Each configuration gets the same load from one mailbench process:
#   - SMTP: MESSAGES messages of SIZE over CONNS connections (`mailbench smtp`) to one
#     mailbox, checked end to end over POP3;
#   - SMTP spread: as many again, each to one of USERS mailboxes in turn (--spread-to):
#     deliveries to one mailbox take its account's row lock one after another, deliveries
#     to different mailboxes need not;
#   - IMAP: the mix of `mailbench imap` from CLIENTS clients for IMAP_DURATION on the
#     INBOX the SMTP step filled (IMAPS).
# Around each step it reads the nodes' mailroom_db_queries_total (statements per message
# or operation), pg_stat_statements (the same, seen by the server, and the busiest
# statements) and the CPU seconds used by PostgreSQL, the nodes and mailbench. It prints
# each run, then a table of medians with the ratio 2 nodes / 1 node, and stops everything
# it started on exit.
#
# Settings (environment): RUNS=2 SIZE=10KB CONNS=8 MESSAGES=2000 DURATION=60s USERS=4 CLIENTS=20
# IMAP_DURATION=20s MIX= (mailbench's default mix) KEEP=1 (keep the temp folder)
# IDLE_MIN=85 IDLE_WAIT=30 (before each step, wait up to IDLE_WAIT s for IDLE_MIN% idle
# CPU; steps started busier are flagged) MAILROOM_BIN, MAILBENCH_BIN (prebuilt binaries;
# otherwise built from this checkout).
set -euo pipefail

RUNS=${RUNS:-2}
SIZE=${SIZE:-10KB}
CONNS=${CONNS:-8}
MESSAGES=${MESSAGES:-2000}
USERS=${USERS:-4}
DURATION=${DURATION:-60s}
CLIENTS=${CLIENTS:-20}
IMAP_DURATION=${IMAP_DURATION:-20s}
MIX=${MIX:-}
KEEP=${KEEP:-0}
IDLE_MIN=${IDLE_MIN:-85}
IDLE_WAIT=${IDLE_WAIT:-30}

DOMAIN=bench.test
ADDR=bench@$DOMAIN
PASSWORD=Tidy-Harbour-2026
FROM=loadgen@sender.test

REPO=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:/usr/sbin:/sbin:$PATH"
T=$(mktemp -d /tmp/mailbench-pg.XXXXXX)
chmod 755 "$T"
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server under /usr/lib/postgresql/*/bin: install the Debian package postgresql"
[ -x /usr/bin/time ] || die "needs /usr/bin/time (Debian package time)"
command -v curl >/dev/null || die "needs curl"

PG=$T/pg
NODE_PIDS=()
cleanup() {
  set +e
  stop_nodes
  [ -f "$PG/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG/data" -m fast -w stop >/dev/null 2>&1
  if [ "$KEEP" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_binaries
self_signed "$T/tls" "mx.$DOMAIN"

# ---------------------------------------------------------------------------------------
# PostgreSQL: initdb in the temp folder, loopback TCP and a socket there, fsync on.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$PG"
[ "$(id -u)" = 0 ] && chown postgres "$PG"
pick_port PG_PORT
as_pg "$PG_BIN/initdb" -D "$PG/data" --auth=trust -U postgres -E UTF8 --locale=C.UTF-8 >"$T/initdb.log" 2>&1 ||
  { cat "$T/initdb.log" >&2; die "initdb failed"; }
as_pg "$PG_BIN/pg_ctl" -D "$PG/data" -w -t 60 -l "$PG/server.log" -o "-c listen_addresses=127.0.0.1 -p $PG_PORT \
  -c unix_socket_directories=$PG -c fsync=on -c max_connections=200 \
  -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top" start >/dev/null ||
  { cat "$PG/server.log" >&2; die "PostgreSQL did not start"; }
PG_PID=$(head -1 "$PG/data/postmaster.pid")
# pg_cpu: CPU seconds of the whole cluster: the postmaster with the backends it has
# reaped, and the backends still running.
pg_cpu() { proc_cpu "$PG_PID" $(pgrep -P "$PG_PID" || true); }
psql_do() { # DB SQL: runs SQL, prints rows as text
  "$PG_BIN/psql" -h "$PG" -p "$PG_PORT" -U postgres -d "$1" -X -q -A -t -F ' | ' -v ON_ERROR_STOP=1 -c "$2"
}

# ---------------------------------------------------------------------------------------
# Mailroom nodes: node 1 creates the domain and the user, node 2 joins the database.
write_node_config() { # DIR DSN SMTP IMAPS POP3 HTTP DNS
  cat > "$1/mailroom.toml" <<EOF
hostname = "mx.$DOMAIN"
[log]
level = "warn"
format = "text"
[store]
backend = "postgres"
dsn = "$2"
[tls]
cert = "$T/tls/cert.pem"
key = "$T/tls/key.pem"
extra = []
[smtp]
listen = ["127.0.0.1:$3"]
submission = []
submissions = []
max_message_size = "50MB"
relay_port = 25
[imap]
listen = []
tls_listen = ["127.0.0.1:$4"]
[pop3]
listen = ["127.0.0.1:$5"]
tls_listen = []
[http]
listen = ["127.0.0.1:$6"]
tls_listen = []
[dns]
resolver = "127.0.0.1:$7"
[limits]
shutdown_timeout = "10s"
EOF
}
for n in 1 2; do
  pick_port "SMTP_$n"; pick_port "IMAPS_$n"; pick_port "POP3_$n"; pick_port "HTTP_$n"
done
pick_port DNS_PORT # nothing listens there: mail checks never send a query anywhere

start_nodes() { # COUNT DB
  local n dir dsn=postgres://postgres@127.0.0.1:$PG_PORT/$2?sslmode=disable smtp imaps pop3 http
  for n in $(seq "$1"); do
    dir=$T/$2/node$n
    if [ "$n" = 1 ]; then
      "$MAILROOM" init --data "$dir" --hostname "mx.$DOMAIN" --domain "$DOMAIN" --store postgres --dsn "$dsn" >/dev/null
    else
      "$MAILROOM" init --data "$dir" --hostname "mx.$DOMAIN" --store postgres --dsn "$dsn" >/dev/null
    fi
    smtp=SMTP_$n imaps=IMAPS_$n pop3=POP3_$n http=HTTP_$n
    # The configuration is loopback-only before the server ever starts.
    write_node_config "$dir" "$dsn" "${!smtp}" "${!imaps}" "${!pop3}" "${!http}" "$DNS_PORT"
    if [ "$n" = 1 ]; then
      for u in $(all_users); do
        printf '%s\n' "$PASSWORD" | "$MAILROOM" user add --data "$dir" --password-stdin "$u" >/dev/null
      done
    fi
    "$MAILROOM" serve --data "$dir" >"$dir/serve.log" 2>&1 &
    NODE_PIDS+=($!)
    wait_port "${!smtp}" "node $n SMTP"
    wait_port "${!imaps}" "node $n IMAPS"
    wait_port "${!http}" "node $n HTTP"
  done
}
stop_nodes() {
  local pid
  for pid in "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${NODE_PIDS[@]}"; do
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  NODE_PIDS=()
}
all_users() { # the mailboxes: ADDR, then bench2@ to bench$USERS@
  local i
  echo "$ADDR"
  for i in $(seq 2 "$USERS"); do echo "bench$i@$DOMAIN"; done
}
node_addrs() { # COUNT VAR: comma-separated loopback addresses of the first COUNT nodes' VAR_n ports
  local n v out=
  for n in $(seq "$1"); do v=$2_$n; out+=${out:+,}127.0.0.1:${!v}; done
  echo "$out"
}
db_queries() { # COUNT: the nodes' mailroom_db_queries_total, summed
  local n v total=0 x
  for n in $(seq "$1"); do
    v=HTTP_$n
    x=$(curl -s --max-time 10 "http://127.0.0.1:${!v}/metrics" | awk '/^mailroom_db_queries_total\{/ { print $2 }')
    total=$(awk -v a="$total" -v b="${x:-0}" 'BEGIN { printf "%.0f", a + b }')
  done
  echo "$total"
}

# ---------------------------------------------------------------------------------------
# One step (smtp or imap) of one configuration, with its counters and CPU.
RES=$T/results
mkdir -p "$RES"
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "nan"; else printf "%.2f", a / b }'; }
step() { # NODES RUN STEP DB
  local nodes=$1 run=$2 what=$3 db=$4 idle out q0 q1 pg0 pg1 mr0 mr1 busy0 busy1 done_
  out=$RES/$what-$nodes-$run
  idle=$(wait_idle)
  psql_do "$db" "SELECT pg_stat_statements_reset()" >/dev/null
  q0=$(db_queries "$nodes"); pg0=$(pg_cpu); mr0=$(proc_cpu "${NODE_PIDS[@]}"); busy0=$(cpu_busy)
  case $what in
    smtp)
      /usr/bin/time -f '%U %S' -o "$out.time" timeout 900 "$MAILBENCH" smtp --label "$nodes-node" \
        --addr "$(node_addrs "$nodes" SMTP)" --from "$FROM" --to "$ADDR" --size "$SIZE" --conns "$CONNS" \
        --messages "$MESSAGES" --duration "$DURATION" --verify "pop3://${ADDR/@/%40}:$PASSWORD@127.0.0.1:$POP3_1" \
        --json-out "$out.json" >"$out.txt" || echo "   (mailbench reported errors for this run)"
      done_=$(jfield accepted "$out.json") ;;
    smtp-spread)
      /usr/bin/time -f '%U %S' -o "$out.time" timeout 900 "$MAILBENCH" smtp --label "$nodes-node" \
        --addr "$(node_addrs "$nodes" SMTP)" --from "$FROM" --to "$(all_users | paste -sd,)" --spread-to \
        --size "$SIZE" --conns "$CONNS" --messages "$MESSAGES" --duration "$DURATION" --seed 2 \
        --json-out "$out.json" >"$out.txt" || echo "   (mailbench reported errors for this run)"
      done_=$(jfield accepted "$out.json") ;;
    imap)
      /usr/bin/time -f '%U %S' -o "$out.time" timeout 600 "$MAILBENCH" imap --label "$nodes-node" \
        --addr "$(node_addrs "$nodes" IMAPS)" --user "$ADDR" --password "$PASSWORD" --clients "$CLIENTS" \
        --duration "$IMAP_DURATION" ${MIX:+--mix "$MIX"} --size "$SIZE" --json-out "$out.json" >"$out.txt" ||
        echo "   (mailbench reported errors for this run)"
      done_=$(jfield ops "$out.json") ;;
  esac
  q1=$(db_queries "$nodes"); pg1=$(pg_cpu); mr1=$(proc_cpu "${NODE_PIDS[@]}"); read -ra busy1 < <(cpu_busy)
  read -ra busy0 <<<"$busy0"
  local hz mb pgs
  hz=$(getconf CLK_TCK)
  mb=$(awk '{ printf "%.2f", $1 + $2 }' "$out.time")
  pgs=$(psql_do "$db" "SELECT sum(calls) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")
  psql_do "$db" "SELECT calls, round(total_exec_time::numeric, 1), left(regexp_replace(query, '\s+', ' ', 'g'), 110)
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    ORDER BY calls DESC LIMIT 25" >"$out.top"
  {
    echo "done $done_"
    echo "idle $idle"
    echo "per_item_queries $(div "$((q1 - q0))" "$done_")"
    echo "per_item_pgstat $(div "${pgs:-0}" "$done_")"
    echo "cpu_pg $(awk -v a="$pg0" -v b="$pg1" 'BEGIN { printf "%.2f", b - a }')"
    echo "cpu_nodes $(awk -v a="$mr0" -v b="$mr1" 'BEGIN { printf "%.2f", b - a }')"
    echo "cpu_mailbench $mb"
    echo "cpu_machine $(awk -v a="${busy0[0]}" -v b="${busy1[0]}" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')"
    echo "busy_pct $(awk -v a="${busy0[0]}" -v b="${busy1[0]}" -v ta="${busy0[1]}" -v tb="${busy1[1]}" 'BEGIN { printf "%.1f", (tb > ta ? 100 * (b - a) / (tb - ta) : 0) }')"
  } >"$out.stats"
  cat "$out.txt"
  sed 's/^/   /' "$out.stats" | tr '\n' ' ' | sed 's/   */  /g'; echo
  if awk -v i="$idle" -v m="$IDLE_MIN" 'BEGIN { exit !(i < m) }'; then
    echo "   warning: the machine was busy before this step (idle $idle%)"
  fi
}

run_config() { # NODES RUN
  local db=bench_$1_$2
  psql_do postgres "CREATE DATABASE $db" >/dev/null
  psql_do "$db" "CREATE EXTENSION pg_stat_statements" >/dev/null
  start_nodes "$1" "$db"
  sleep 1
  echo "== $1 node(s), run $2"
  step "$1" "$2" smtp "$db"
  [ "$USERS" -gt 1 ] && step "$1" "$2" smtp-spread "$db"
  step "$1" "$2" imap "$db"
  stop_nodes
}

echo "mailbench PostgreSQL one node vs two on $(hostname), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "Mailroom $(mailroom_rev), PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') (fsync on, default settings)"
echo "parameters: SMTP $MESSAGES x $SIZE over $CONNS connections (cap $DURATION), IMAP mix ${MIX:-default} from $CLIENTS clients for $IMAP_DURATION; $RUNS runs, 1 and 2 nodes alternating"
echo
for run in $(seq "$RUNS"); do
  run_config 1 "$run"
  run_config 2 "$run"
done

# ---------------------------------------------------------------------------------------
# Summary: medians and ratios.
med() { # FILE-SUFFIX NODES KEY (stats) or json:FIELD or op:OP:FIELD
  local vals=() run v
  for run in $(seq "$RUNS"); do
    case $3 in
      json:*) v=$(jfield "${3#json:}" "$RES/$1-$2-$run.json") ;;
      op:*) local spec=${3#op:}; v=$(jop "${spec%%:*}" "${spec#*:}" "$RES/$1-$2-$run.json") ;;
      *) v=$(awk -v k="$3" '$1 == k { print $2 }' "$RES/$1-$2-$run.stats") ;;
    esac
    vals+=("${v:-0}")
  done
  median "${vals[@]}"
}
row() { # LABEL STEP KEY
  local a b
  a=$(med "$2" 1 "$3"); b=$(med "$2" 2 "$3")
  printf '%-40s %10.2f %10.2f %7s\n' "$1" "$a" "$b" "$(ratio "$b" "$a")"
}
per() { # LABEL STEP STATS-KEY: CPU seconds per 1000 items
  local a b
  a=$(div "$(med "$2" 1 "$3")e3" "$(med "$2" 1 done)"); b=$(div "$(med "$2" 2 "$3")e3" "$(med "$2" 2 done)")
  printf '%-40s %10.2f %10.2f %7s\n' "$1" "$a" "$b" "$(ratio "$b" "$a")"
}
echo
echo "== Summary (median of $RUNS runs; ratio = 2 nodes / 1 node)"
printf '%-40s %10s %10s %7s\n' figure "1 node" "2 nodes" ratio
row "SMTP accepted msg/s" smtp json:accepted_per_s
row "SMTP end to end msg/s" smtp json:e2e_per_s
row "SMTP DATA->250 p50 ms" smtp json:data_p50_ms
row "SMTP DATA->250 p99 ms" smtp json:data_p99_ms
row "SMTP statements/msg (mailroom counter)" smtp per_item_queries
row "SMTP statements/msg (pg_stat_statements)" smtp per_item_pgstat
per "SMTP CPU s/1000 msg: PostgreSQL" smtp cpu_pg
per "SMTP CPU s/1000 msg: Mailroom nodes" smtp cpu_nodes
per "SMTP CPU s/1000 msg: mailbench" smtp cpu_mailbench
per "SMTP CPU s/1000 msg: whole machine" smtp cpu_machine
row "SMTP machine busy %" smtp busy_pct
if [ "$USERS" -gt 1 ]; then
  row "SMTP to $USERS mailboxes msg/s" smtp-spread json:accepted_per_s
  row "SMTP to $USERS mailboxes DATA->250 p50 ms" smtp-spread json:data_p50_ms
  row "SMTP to $USERS mailboxes DATA->250 p99 ms" smtp-spread json:data_p99_ms
  row "SMTP to $USERS mailboxes statements/msg" smtp-spread per_item_queries
  per "SMTP to $USERS: CPU s/1000 msg PostgreSQL" smtp-spread cpu_pg
  per "SMTP to $USERS: CPU s/1000 msg nodes" smtp-spread cpu_nodes
  row "SMTP to $USERS mailboxes machine busy %" smtp-spread busy_pct
fi
row "IMAP mix ops/s" imap json:ops_per_s
row "IMAP append p50 ms" imap op:append:p50_ms
row "IMAP store p50 ms" imap op:store:p50_ms
row "IMAP fetchbody p50 ms" imap op:fetchbody:p50_ms
row "IMAP statements/op (mailroom counter)" imap per_item_queries
row "IMAP statements/op (pg_stat_statements)" imap per_item_pgstat
per "IMAP CPU s/1000 ops: PostgreSQL" imap cpu_pg
per "IMAP CPU s/1000 ops: Mailroom nodes" imap cpu_nodes
per "IMAP CPU s/1000 ops: mailbench" imap cpu_mailbench
per "IMAP CPU s/1000 ops: whole machine" imap cpu_machine
row "IMAP machine busy %" imap busy_pct
echo
echo "The machine has $(nproc) CPUs: 'whole machine' includes whatever else ran meanwhile."
echo
echo "== Busiest statements during SMTP, 1 node, run 1 (calls | total ms | statement)"
cat "$RES/smtp-1-1.top"
echo
echo "== Busiest statements during the IMAP mix, 1 node, run 1"
cat "$RES/imap-1-1.top"
