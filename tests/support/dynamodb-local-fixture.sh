#!/usr/bin/env bash
# The shared DynamoDB Local of a test run (a ctest fixture; see tests/support/dynamodb-local.mjs).
#
#   dynamodb-local-fixture.sh start DIR   # DIR/state holds "<port> <pid> <tls port>",
#                                         # DIR/cert.pem the TLS port's certificate (CN localhost)
#   dynamodb-local-fixture.sh stop DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?start or stop}
dir=${2:?directory}
mkdir -p "$dir"
case "$cmd" in
  start)
    if [ ! -s "$dir/cert.pem" ]; then
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
    fi
    node "$here/dynamodb-local.mjs" --state "$dir/state" --key "$dir/key.pem" --cert "$dir/cert.pem"
    ;;
  stop) node "$here/dynamodb-local.mjs" --stop "$dir/state" ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
