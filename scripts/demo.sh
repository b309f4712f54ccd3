#!/usr/bin/env bash
# Brings up a working Mailroom on the embedded default (SQLite and files in ./demo-data):
# builds the binary, initialises the data directory with the demo domain example.test
# and the user demo@example.test on first run, then serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

DATA=${MAILROOM_DATA:-./demo-data}
PASSWORD=${DEMO_PASSWORD:-mailroom-demo-2026}

mkdir -p bin
go build -o bin/mailroom ./cmd/mailroom

if [ ! -f "$DATA/mailroom.toml" ]; then
  bin/mailroom init --data "$DATA" --hostname mail.example.test --domain example.test
  printf '%s\n' "$PASSWORD" | bin/mailroom user add --data "$DATA" --password-stdin \
    --display-name "Demo User" demo@example.test
  echo "Demo user: demo@example.test, password: $PASSWORD"
fi
exec bin/mailroom serve --data "$DATA"
