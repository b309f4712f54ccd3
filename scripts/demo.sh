#!/usr/bin/env bash
# Brings up a working Mailroom on the embedded default (SQLite and files in ./demo-data):
# builds the binary, initialises the data directory with the demo domain example.test
# and the user demo@example.test on first run, then serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

DATA=${MAILROOM_DATA:-./demo-data}
PASSWORD=${DEMO_PASSWORD:-Tidy-Harbour-2026}

mkdir -p bin
go build -o bin/mailroom ./cmd/mailroom

if [ ! -f "$DATA/mailroom.toml" ]; then
  bin/mailroom init --data "$DATA" --hostname mail.example.test --domain example.test
fi
if ! bin/mailroom user show --data "$DATA" demo@example.test >/dev/null 2>&1; then
  printf '%s\n' "$PASSWORD" | bin/mailroom user add --data "$DATA" --password-stdin \
    --display-name "Demo User" demo@example.test
fi
echo "Demo user: demo@example.test, password: $PASSWORD"
exec bin/mailroom serve --data "$DATA"
