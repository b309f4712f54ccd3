# Shell helpers the bench/*.sh scripts share: logging, free loopback ports, building the
# binaries, idle CPU, and reading mailbench's JSON reports. Source it after `set -euo
# pipefail` and after setting REPO (the checkout) and T (the run's temporary folder).
# It starts nothing and defines no traps: each script owns what it starts.

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# build_binaries sets MAILROOM and MAILBENCH: the prebuilt MAILROOM_BIN and
# MAILBENCH_BIN when both are given, otherwise both built from $REPO into $T/bin.
build_binaries() {
  mkdir -p "$T/bin"
  if [ -z "${MAILROOM_BIN:-}" ] || [ -z "${MAILBENCH_BIN:-}" ]; then
    log "building mailroom and mailbench from $REPO"
    (cd "$REPO" && go build -o "$T/bin/" ./cmd/mailroom ./cmd/mailbench)
  fi
  MAILROOM=${MAILROOM_BIN:-$T/bin/mailroom}
  MAILBENCH=${MAILBENCH_BIN:-$T/bin/mailbench}
}

# mailroom_rev names the Mailroom under test: the prebuilt binary, or the checkout.
mailroom_rev() {
  if [ -n "${MAILROOM_BIN:-}" ]; then
    echo "$MAILROOM_BIN${MAILROOM_REV:+ ($MAILROOM_REV)}"
  else
    (cd "$REPO" && git describe --always --dirty 2>/dev/null || echo '?')
  fi
}

# Free loopback ports, from PORT_LOW (default 20000) to below 32768, so that nothing
# picked collides with the ephemeral range clients use.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
taken=" "
pick_port() { # VAR: sets VAR to a free loopback port not picked before
  local p low=${PORT_LOW:-20000}
  for _ in $(seq 200); do
    p=$(( low + RANDOM % (32768 - low) ))
    if [[ $taken != *" $p "* ]] && port_free "$p"; then taken+="$p "; printf -v "$1" %s "$p"; return; fi
  done
  die "no free port"
}
wait_port() { # PORT NAME: waits up to 60 s for something to listen on 127.0.0.1:PORT
  for _ in $(seq 600); do
    if ! port_free "$1"; then return 0; fi
    sleep 0.1
  done
  die "$2 is not listening on 127.0.0.1:$1"
}

# self_signed DIR HOST writes DIR/cert.pem and DIR/key.pem for HOST.
self_signed() {
  mkdir -p "$1"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
    -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
  chmod 644 "$1/cert.pem" "$1/key.pem"
}

# cpu_busy prints the machine's busy and total jiffies (all CPUs) from /proc/stat.
cpu_busy() {
  local a i t=0
  read -ra a < <(head -1 /proc/stat)
  for i in 1 2 3 4 5 6 7 8; do t=$((t + a[i])); done
  echo "$((t - a[4] - a[5])) $t"
}
idle_cpu() { # percent idle over 2 s
  local a b
  read -ra a < <(cpu_busy); sleep 2; read -ra b < <(cpu_busy)
  awk -v b="$((b[0] - a[0]))" -v t="$((b[1] - a[1]))" 'BEGIN { printf "%.1f", (t > 0 ? 100 * (t - b) / t : 0) }'
}
# wait_idle measures idle CPU until it is at least IDLE_MIN% or IDLE_WAIT seconds have
# passed, and prints the last figure: runs on a busy machine measure the other load.
wait_idle() {
  local idle end=$((SECONDS + ${IDLE_WAIT:-120}))
  while :; do
    idle=$(idle_cpu)
    if awk -v i="$idle" -v m="${IDLE_MIN:-85}" 'BEGIN { exit !(i >= m) }' || [ "$SECONDS" -ge "$end" ]; then
      echo "$idle"; return
    fi
  done
}

# proc_cpu PID...: CPU seconds the processes used, their reaped children included
# (utime, stime, cutime, cstime of /proc/PID/stat).
proc_cpu() {
  local hz pid f total=0
  hz=$(getconf CLK_TCK)
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    # The command name in field 2 may hold spaces: cut after its closing parenthesis.
    f=$(sed 's/.*) //' "/proc/$pid/stat")
    total=$(awk -v f="$f" -v t="$total" 'BEGIN { split(f, a, " "); print t + a[12] + a[13] + a[14] + a[15] }')
  done
  awk -v t="$total" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'
}

# Reading mailbench's JSON reports (one "key": value per line) and summarising.
jfield() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$2" | head -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
# jop OP FIELD FILE: FIELD of operation OP in the per_op list of an imap report.
jop() { awk -v op="\"op\": \"$1\"," -v f="\"$2\": " 'index($0, op) { on = 1; next } on && index($0, f) { sub(/.*: /, ""); sub(/,$/, ""); print; exit } on && /}/ { on = 0 }' "$3"; }
