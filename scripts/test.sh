#!/usr/bin/env bash
# Runs Mailroom's whole test suite on a fresh Debian machine: installs what the tests
# need from Debian's packages and the Go module proxy, checks formatting and static
# analysis, then runs every test. The last lines printed are go test's own summary.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

# Debian packages the tests drive as real peers and clients.
# PostgreSQL is installed for its binaries only: the tests start throw-away clusters of
# their own (internal/pgtest); the Debian service is not used.
# Chromium runs the browser tests (chromedp): the console, OAuth sign-in with TOTP.
packages=(python3 sqlite3 curl openssl libwbxml2-utils postfix swaks msmtp fetchmail isync
  opendkim-tools python3-dkim python3-nacl python3-caldav postgresql postgresql-contrib chromium)
need=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} from Debian"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # Postfix is installed only for its smtp-sink test peer: no configuration, no daemon.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  # policy-rc.d keeps Debian from starting the PostgreSQL service on installation.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

if ! command -v go >/dev/null; then
  echo "Go 1.26 or newer is needed (expected at /usr/local/go)" >&2
  exit 1
fi
go version

STATICCHECK_VERSION=v0.8.2
if ! staticcheck -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  echo "== installing staticcheck $STATICCHECK_VERSION"
  GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" $unformatted >&2
  exit 1
fi
echo "== go vet"
go vet ./...
echo "== staticcheck"
staticcheck ./...

# Every parser's fuzz target runs for a bounded time on each CI run (its seed corpus
# also runs in the plain go test below). FUZZTIME=0 skips this stage.
FUZZTIME=${FUZZTIME:-8s}
if [ "$FUZZTIME" != 0 ]; then
  echo "== fuzzing each parser for $FUZZTIME"
  for target in \
    internal/imap/imapwire:FuzzReadCommand internal/pop3:FuzzCommand internal/smtp:FuzzSession \
    internal/wbxml:FuzzDecode internal/mime:FuzzParse internal/mailio:FuzzMboxReader \
    internal/config:FuzzLoad internal/directory:FuzzParseAddress internal/autodiscover:FuzzAutodiscoverRequest \
    internal/msgauth:FuzzCheck internal/imap:FuzzWriteFetch \
    internal/activesync:FuzzKQL internal/activesync:FuzzFindRequest internal/scep:FuzzParseRequest \
    internal/auth:FuzzParseOAuthBearer internal/auth:FuzzParseXOAUTH2 internal/web:FuzzParseSettings \
    internal/oauth:FuzzParseUserCode internal/oauth:FuzzNormalizeRecoveryCode internal/adminapi:FuzzDecodeJSON \
    internal/pim:FuzzParseCalendar internal/pim:FuzzParseContact internal/dav:FuzzRequestXML internal/dav:FuzzHandler \
    internal/httpauth:FuzzParse internal/activesync:FuzzTimeZone internal/activesync:FuzzRecurrence \
    internal/scheduling:FuzzITIP internal/acl:FuzzParse internal/dav:FuzzFreeBusyRequest \
    internal/store/sqlstore:FuzzDecodeSummary internal/store/sqlstore:FuzzLower internal/imap:FuzzView; do
    pkg=${target%%:*} fn=${target##*:}
    log=$(mktemp)
    # A run that fails without writing a failing input found nothing: on a loaded
    # machine Go's fuzzing coordinator can miss its own deadline ("context deadline
    # exceeded"). Such a run is tried once more; a failing input always stops CI.
    for attempt in 1 2; do
      if go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME" "./$pkg" >"$log" 2>&1; then
        break
      fi
      if grep -q "Failing input written" "$log" || [ "$attempt" = 2 ]; then
        tail -n 40 "$log" >&2
        echo "fuzzing $fn in $pkg found a failure; rerun: go test -run '^$' -fuzz '^${fn}\$' ./$pkg" >&2
        exit 1
      fi
      echo "fuzzing $fn in $pkg stopped without a finding ($(grep -m1 -o 'context deadline exceeded' "$log" || echo 'no failing input')); once more" >&2
    done
    rm -f "$log"
  done
fi

echo "== go test"
exec go test -count=1 -timeout 30m ./...
