#!/usr/bin/env bash
# SMTP throughput, Mailroom against Postfix + Dovecot, side by side on this machine
# (docs/benchmarks.md says how to read the output; /work/shared/reference/benchmarks.md
# why it is set up this way).
#
# Run as root on Debian:  bash bench/smtp-vs-postfix.sh
#
# It installs postfix, dovecot-imapd, dovecot-pop3d and dovecot-lmtpd from Debian if they
# are missing (without letting the packages start their system-wide services), then, in a
# private temporary folder and on 127.0.0.1 only:
#   - Dovecot with its own config file (dovecot -c FILE) and base dir: Maildir, a
#     passwd-file with the test user, the performance settings from Dovecot's tuning
#     notes, LMTP on a unix socket, POP3 (and IMAP) on loopback ports;
#   - Postfix with its own config dir (postfix -c DIR): loopback-only, the test domain as
#     a virtual mailbox domain delivered over LMTP into that Dovecot;
#   - Mailroom (mailroom init, user add, a config with loopback ports).
# Each run starts both from an empty mailbox and sends the same messages with
# `mailbench smtp` over the same number of connections, alternating the servers (A B A B),
# and times end to end by counting the recipient's mailbox over POP3. It prints each run,
# the medians and the ratios, and stops everything it started on exit.
#
# Settings (environment): SIZES="10KB 100KB" RUNS=3 CONNS=8 MESSAGES=2000 DURATION=60s
# TLS_MODE=none|starttls (SMTP; the same for both servers) KEEP=1 (keep the temp folder)
# VERIFY_TIMEOUT=180s (end-to-end wait) IDLE_MIN=85 IDLE_WAIT=120 (before each run, wait
# up to IDLE_WAIT s for IDLE_MIN% idle CPU; runs started busier are flagged)
# MAILROOM_BIN, MAILBENCH_BIN (prebuilt binaries; otherwise built from this checkout).
set -euo pipefail

SIZES=${SIZES:-"10KB 100KB"}
RUNS=${RUNS:-3}
CONNS=${CONNS:-8}
MESSAGES=${MESSAGES:-2000}
DURATION=${DURATION:-60s}
TLS_MODE=${TLS_MODE:-none}
VERIFY_TIMEOUT=${VERIFY_TIMEOUT:-180s}
KEEP=${KEEP:-0}

DOMAIN=bench.test
USER_LOCAL=bench
ADDR="$USER_LOCAL@$DOMAIN"
PASSWORD=Tidy-Harbour-2026
FROM=loadgen@sender.test

# Shared helpers (log, die, port_free, median, ratio, ...); the definitions below
# that differ from lib.sh's are this script's own and take precedence.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root (Postfix and Dovecot need it)"
command -v apt-get >/dev/null || die "this script needs Debian (apt-get)"
case $TLS_MODE in none|starttls) ;; *) die "TLS_MODE must be none or starttls" ;; esac
REPO=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:/usr/sbin:/sbin:$PATH"

# ---------------------------------------------------------------------------------------
# Everything started is recorded here and stopped on exit.
T=$(mktemp -d /tmp/mailbench.XXXXXX)
chmod 755 "$T"
DC=$T/dovecot PF=$T/postfix MR=$T/mailroom
MAILROOM_PID=
DNS_PID=
cleanup() {
  set +e
  stop_mailroom
  [ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null && wait "$DNS_PID" 2>/dev/null
  stop_postfix
  stop_dovecot
  if [ "$KEEP" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------
# Packages.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in postfix dovecot-imapd dovecot-pop3d dovecot-lmtpd openssl; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # Keep the packages from starting their system-wide services (on all interfaces):
  # only the private instances below may run.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  timeout 900 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${missing[@]}" >/dev/null
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# ---------------------------------------------------------------------------------------
# Binaries.
mkdir -p "$T/bin"
if [ -z "${MAILROOM_BIN:-}" ] || [ -z "${MAILBENCH_BIN:-}" ]; then
  log "building mailroom and mailbench from $REPO"
  (cd "$REPO" && go build -o "$T/bin/" ./cmd/mailroom ./cmd/mailbench)
fi
MAILROOM=${MAILROOM_BIN:-$T/bin/mailroom}
MAILBENCH=${MAILBENCH_BIN:-$T/bin/mailbench}

# ---------------------------------------------------------------------------------------
# Free loopback ports.
taken=" "
# Below 32768: Linux hands out ephemeral ports (outgoing connections, of this benchmark and
# of anything else on the machine) from 32768 up, and one of those could take a port
# picked here before the server that needs it starts.
pick_port() { # VAR: sets VAR to a free loopback port not picked before
  local p
  for _ in $(seq 200); do
    p=$(( 20000 + RANDOM % 12768 ))
    if [[ $taken != *" $p "* ]] && port_free "$p"; then taken+="$p "; printf -v "$1" %s "$p"; return; fi
  done
  die "no free port"
}
wait_port() { # PORT NAME
  for _ in $(seq 300); do
    if ! port_free "$1"; then return 0; fi
    sleep 0.1
  done
  die "$2 is not listening on 127.0.0.1:$1"
}
pick_port PF_SMTP; pick_port DC_POP3; pick_port DC_IMAP
pick_port MR_SMTP; pick_port MR_POP3; pick_port MR_DNS
"$MAILBENCH" dns --addr "127.0.0.1:$MR_DNS" --duration 4h >"$T/dns.log" 2>&1 &
DNS_PID=$!
wait_port "$MR_DNS" "mailbench dns"

# One self-signed certificate for the TLS that both sides offer.
mkdir -p "$T/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mx.$DOMAIN" \
  -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" 2>/dev/null
chmod 644 "$T/tls/cert.pem" "$T/tls/key.pem"

# ---------------------------------------------------------------------------------------
# Dovecot: own config file and base dir, Maildir, tuned as its performance notes say.
MAIL_UID=$(id -u mail); MAIL_GID=$(id -g mail)
DC_CONF=$DC/dovecot.conf
mkdir -p "$DC/run" "$DC/state" "$DC/home"
printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$ADDR" "$PASSWORD" "$MAIL_UID" "$MAIL_GID" "$DC/home/$USER_LOCAL" > "$DC/users"
chmod 640 "$DC/users"; chgrp dovecot "$DC/users"
ssl_dh=""
[ -f /usr/share/dovecot/dh.pem ] && ssl_dh="ssl_dh = </usr/share/dovecot/dh.pem"
cat > "$DC_CONF" <<EOF
# Private Dovecot for mailbench; nothing here touches the system's instance.
instance_name = mailbench-dovecot
base_dir = $DC/run
state_dir = $DC/state
protocols = imap pop3 lmtp
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
# Only quiets doveconf's warning that 1000 is below the theoretical maximum of the
# process limits; the benchmark uses a handful of connections.
service auth {
  client_limit = 4096
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
    address = 127.0.0.1
    port = $DC_IMAP
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DC_POP3
  }
  inet_listener pop3s {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
}
service imap {
  service_count = 100
}
service pop3 {
  service_count = 100
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
EOF
LMTP_SOCKET=$DC/run/lmtp

start_dovecot() {
  rm -rf "$DC/home/$USER_LOCAL"
  install -d -o "$MAIL_UID" -g "$MAIL_GID" -m 700 "$DC/home/$USER_LOCAL"
  # Dovecot's master keeps the descriptors it was started with: give it files, not
  # whatever pipe this script's output goes to.
  dovecot -c "$DC_CONF" >>"$DC/start.log" 2>&1 </dev/null || { cat "$DC/start.log" >&2; die "dovecot did not start"; }
  wait_port "$DC_POP3" "Dovecot POP3"
  for _ in $(seq 100); do [ -S "$LMTP_SOCKET" ] && return 0; sleep 0.1; done
  die "Dovecot made no LMTP socket"
}
stop_dovecot() {
  local pid
  [ -f "$DC/run/master.pid" ] || return 0
  pid=$(cat "$DC/run/master.pid")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$DC/run/master.pid"
}

# ---------------------------------------------------------------------------------------
# Postfix: own config dir and queue, loopback only, the test domain delivered over LMTP.
mkdir -p "$PF/etc"
pf_tls="smtpd_tls_security_level = none"
if [ "$TLS_MODE" = starttls ]; then
  pf_tls="smtpd_tls_security_level = may
smtpd_tls_cert_file = $T/tls/cert.pem
smtpd_tls_key_file = $T/tls/key.pem"
fi
cat > "$PF/etc/main.cf" <<EOF
# Private Postfix for mailbench.
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.$DOMAIN
mydomain = $DOMAIN
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = $DOMAIN
virtual_transport = lmtp:unix:$LMTP_SOCKET
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
# Nothing leaves this machine: no DNS, no delivery elsewhere (bounces included).
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
default_transport = error:mailbench sends nothing outside this machine
relay_transport = error:mailbench sends nothing outside this machine
local_transport = error:no local delivery here
alias_maps =
alias_database =
biff = no
maillog_file = $PF/postfix.log
maillog_file_prefixes = $PF
$pf_tls
smtp_tls_security_level = none
lmtp_tls_security_level = none
EOF
cat > "$PF/etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$PF_SMTP inet n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF

start_postfix() {
  rm -rf "$PF/spool" "$PF/data"
  mkdir -p "$PF/spool" "$PF/data"
  chown postfix "$PF/data"
  postfix -c "$PF/etc" start >>"$PF/start.log" 2>&1 </dev/null ||
    { tail -5 "$PF/postfix.log" >&2; die "postfix did not start (it logs to $PF/postfix.log)"; }
  wait_port "$PF_SMTP" "Postfix smtpd"
}
stop_postfix() {
  local pid
  [ -f "$PF/spool/pid/master.pid" ] || return 0
  pid=$(tr -d ' ' < "$PF/spool/pid/master.pid")
  postfix -c "$PF/etc" stop >>"$PF/start.log" 2>&1 || kill "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$PF/spool/pid/master.pid"
}

# ---------------------------------------------------------------------------------------
# Mailroom: a fresh data directory for each run, loopback ports, and `mailbench dns` on
# loopback as its resolver: SPF/DKIM/DMARC checks ask it about every message and get
# NXDOMAIN at once, as from a local resolver, and no query leaves the machine. (A closed
# port instead made each query wait for an ICMP "port unreachable", and a run where one
# went missing waited seconds for a resolver timeout.) Postfix here checks none of this.
write_mailroom_config() {
  cat > "$MR/data/mailroom.toml" <<EOF
hostname = "mx.$DOMAIN"
[log]
level = "info"
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
tls_listen = []
[pop3]
listen = ["127.0.0.1:$MR_POP3"]
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
start_mailroom() {
  stop_mailroom
  rm -rf "$MR"
  mkdir -p "$MR"
  "$MAILROOM" init --data "$MR/data" --hostname "mx.$DOMAIN" --domain "$DOMAIN" >/dev/null
  # The configuration is loopback-only before the server ever starts.
  write_mailroom_config
  printf '%s\n' "$PASSWORD" | "$MAILROOM" user add --data "$MR/data" --password-stdin "$ADDR" >/dev/null
  "$MAILROOM" serve --data "$MR/data" >"$MR/serve.log" 2>&1 &
  MAILROOM_PID=$!
  wait_port "$MR_SMTP" "Mailroom SMTP"
  wait_port "$MR_POP3" "Mailroom POP3"
}
stop_mailroom() {
  [ -n "$MAILROOM_PID" ] || return 0
  kill "$MAILROOM_PID" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$MAILROOM_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$MAILROOM_PID" 2>/dev/null || true
  wait "$MAILROOM_PID" 2>/dev/null || true
  MAILROOM_PID=
}

# ---------------------------------------------------------------------------------------
# Measuring.
idle_cpu() { # percent idle over 2 s, from /proc/stat
  local a b
  read -ra a < <(head -1 /proc/stat); sleep 2; read -ra b < <(head -1 /proc/stat)
  local ta=0 tb=0 i
  for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
  awk -v i1="${a[4]}" -v i2="${b[4]}" -v w1="${a[5]}" -v w2="${b[5]}" -v t="$((tb - ta))" \
    'BEGIN { printf "%.1f", (t > 0 ? 100 * ((i2 - i1) + (w2 - w1)) / t : 0) }'
}
# wait_idle measures idle CPU until it is at least IDLE_MIN% or IDLE_WAIT seconds have
# passed, and prints the last figure: runs on a busy machine measure the other load.
IDLE_MIN=${IDLE_MIN:-85}
IDLE_WAIT=${IDLE_WAIT:-120}
wait_idle() {
  local idle end=$((SECONDS + IDLE_WAIT))
  while :; do
    idle=$(idle_cpu)
    if awk -v i="$idle" -v m="$IDLE_MIN" 'BEGIN { exit !(i >= m) }' || [ "$SECONDS" -ge "$end" ]; then
      echo "$idle"; return
    fi
  done
}
jfield() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$2"; }

RES=$T/results
mkdir -p "$RES"
ENC_USER=${ADDR/@/%40}

bench_one() { # SERVER SIZE RUN
  local server=$1 size=$2 run=$3 addr verify out idle
  case $server in
    mailroom)
      start_mailroom
      addr=127.0.0.1:$MR_SMTP
      verify="pop3://$ENC_USER:$PASSWORD@127.0.0.1:$MR_POP3" ;;
    postfix)
      start_dovecot
      start_postfix
      addr=127.0.0.1:$PF_SMTP
      verify="pop3://$ENC_USER:$PASSWORD@127.0.0.1:$DC_POP3" ;;
  esac
  sleep 1 # let both settle after start (Dovecot pre-forks its login processes)
  idle=$(wait_idle)
  out=$RES/$server-$size-$run.json
  echo "== $server, $size, run $run (idle CPU before: $idle%)"
  echo "$idle" > "$RES/$server-$size-$run.idle"
  timeout 900 "$MAILBENCH" smtp --label "$server" --addr "$addr" --tls="$TLS_MODE" \
    --from "$FROM" --to "$ADDR" --size "$size" --conns "$CONNS" --messages "$MESSAGES" \
    --duration "$DURATION" --verify "$verify" --verify-timeout "$VERIFY_TIMEOUT" \
    --json-out "$out" || echo "   (mailbench reported errors for this run)"
  if awk -v i="$idle" -v m="$IDLE_MIN" 'BEGIN { exit !(i < m) }'; then
    echo "   warning: the machine was busy before this run (idle $idle%)"
  fi
  case $server in
    mailroom) stop_mailroom ;;
    postfix) stop_postfix; stop_dovecot ;;
  esac
}

echo "mailbench SMTP comparison on $(hostname), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
if [ -n "${MAILROOM_BIN:-}" ]; then
  mailroom_rev="$MAILROOM_BIN${MAILROOM_REV:+ ($MAILROOM_REV)}"
else
  mailroom_rev=$(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo '?')
fi
echo "Mailroom $mailroom_rev vs Postfix $(postconf -h mail_version 2>/dev/null) + Dovecot $(dovecot --version | cut -d' ' -f1)"
echo "parameters: sizes $SIZES, $CONNS connections, $MESSAGES messages or $DURATION, SMTP TLS: $TLS_MODE, end to end via POP3 (STLS) on both"
echo

for size in $SIZES; do
  for run in $(seq "$RUNS"); do
    bench_one mailroom "$size" "$run"
    bench_one postfix "$size" "$run"
  done
done

# ---------------------------------------------------------------------------------------
# Summary: medians and ratios.
echo
echo "== Summary (median of $RUNS runs; ratio = Mailroom / Postfix+Dovecot)"
printf '%-7s %-24s %12s %16s %8s\n' size figure Mailroom Postfix+Dovecot ratio
for size in $SIZES; do
  for f in accepted_per_s e2e_per_s data_p50_ms data_p99_ms errors; do
    declare -a m=() p=()
    for run in $(seq "$RUNS"); do
      v=$(jfield "$f" "$RES/mailroom-$size-$run.json" 2>/dev/null); m+=("${v:-0}")
      v=$(jfield "$f" "$RES/postfix-$size-$run.json" 2>/dev/null); p+=("${v:-0}")
    done
    mm=$(median "${m[@]}"); pm=$(median "${p[@]}")
    printf '%-7s %-24s %12.2f %16.2f %8s\n' "$size" "$f" "$mm" "$pm" "$(ratio "$mm" "$pm")"
  done
done
echo
echo "accepted_per_s: messages/s until the last 250; e2e_per_s: messages/s until the last"
echo "message is visible over POP3; data_*_ms: DATA→250 latency (lower is better)."
