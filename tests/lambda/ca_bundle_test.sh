#!/usr/bin/env bash
# AL2023 trust store: a real bootstrap, in a mount namespace that looks like
# provided.al2023 for TLS, reaches a DynamoDB endpoint over HTTPS.
#
#   tests/lambda/ca_bundle_test.sh build/lambda/inventory/bootstrap
#
# The bootstraps' TLS is mbedTLS (ADR 0018), which has no default trust path:
# the client looks for $SSL_CERT_FILE and the common bundles. provided.al2023
# keeps its bundle at /etc/pki/tls/certs/ca-bundle.crt; Debian's /etc/ssl and
# /usr/lib/ssl do not exist there. (With the /etc/pki paths taken out of the
# client's list, al2023_bundle fails: checked on 2026-12-02.) In the namespace
# (`unshare -m`, needs root) Debian's /usr/lib/ssl and /etc/ssl are hidden
# under empty tmpfs mounts, and /etc/pki/tls/certs/ca-bundle.crt (on an overlay
# of /etc, so the host's /etc is untouched) holds a test CA made here. The
# endpoint (ORDERLY_DYNAMODB_ENDPOINT) is a node HTTPS server on 127.0.0.1 with
# a certificate that CA signed; it answers every request with a DynamoDB
# ResourceNotFoundException carrying a marker. The inventory bootstrap reads
# its table at init (the seed catalogue), so:
#   - handshake done: the server saw a signed DynamoDB request, and the
#     bootstrap's init error carries the server's marker;
#   - handshake failed: "TLS handshake with 127.0.0.1: certificate verify
#     failed", and the server saw no request.
# Cases: the bundle path alone (no SSL_CERT_FILE: what the fix adds); the
# SSL_CERT_FILE the stack sets; and, failing closed, a bundle holding another
# CA and no bundle at all.
# Exit 77 (ctest SKIP_RETURN_CODE) with the reason when the namespace cannot be made.
set -euo pipefail
bootstrap="${1:?usage: ca_bundle_test.sh BOOTSTRAP}"
bootstrap="$(cd "$(dirname "$bootstrap")" && pwd)/$(basename "$bootstrap")"
[[ -x "$bootstrap" ]] || { echo "FAIL: $bootstrap is not an executable (build lambda_inventory)"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
command -v openssl >/dev/null || skip "openssl is not installed"
command -v node >/dev/null || skip "node is not installed"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
[[ "$(id -u)" == 0 ]] || skip "not root: unshare -m and mount need root"
unshare -m --propagation private true 2>/dev/null || skip "unshare -m is not permitted here"

work="$(mktemp -d)"
server_pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The test CA, a server certificate it signs for 127.0.0.1 and localhost, and
# another CA that signed nothing here.
cd "$work"
ossl() { openssl "$@" 2>>"$work/openssl.log"; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=Orderly test CA" -keyout ca.key -out ca.pem \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=Orderly other CA" -keyout other.key -out other.pem \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout server.key -out server.csr
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
ossl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile server.ext -out server.pem

# The endpoint: HTTPS on 127.0.0.1, a free port chosen by the kernel.
cat >server.mjs <<'JS'
import https from 'node:https';
import fs from 'node:fs';
const [key, cert, portFile, logFile] = process.argv.slice(2);
const log = (line) => fs.appendFileSync(logFile, line + '\n');
const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
  req.resume();
  req.on('end', () => {
    log(`request ${req.method} ${req.url} target=${req.headers['x-amz-target']} signed=${/^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? '')}`);
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify({
      __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException',
      message: 'orderly-ca-test-marker: no such table here',
    }));
  });
});
server.on('tlsClientError', (err) => log(`tls-error ${err.code ?? ''} ${err.message}`));
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
JS
: >server.log
node server.mjs server.key server.pem port server.log &
server_pid=$!
for _ in $(seq 100); do [[ -s port ]] && break; sleep 0.05; done
[[ -s port ]] || { echo "FAIL: the test HTTPS server did not start"; exit 1; }
port="$(cat port)"

# run CASE BUNDLE [ENV...]: the bootstrap in an AL2023-like namespace whose
# /etc/pki/tls/certs/ca-bundle.crt is BUNDLE (none if empty). Output in CASE.out.
run() {
  local name="$1" bundle="$2"
  shift 2
  mkdir -p "$work/ns-$name"
  # shellcheck disable=SC2016
  timeout 60 unshare -m --propagation private /bin/sh -eu -c '
    ns="$1" bundle="$2"; shift 2
    mount -t tmpfs -o size=4m,mode=0755 tmpfs "$ns"
    mkdir "$ns/upper" "$ns/work"
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$ns/upper,workdir=$ns/work" /etc
    mount -t tmpfs -o size=1m,mode=0755 tmpfs /etc/ssl
    mount -t tmpfs -o size=1m,mode=0755 tmpfs /usr/lib/ssl
    if [ -d /etc/pki ]; then mount -t tmpfs -o size=1m,mode=0755 tmpfs /etc/pki; fi
    if [ -n "$(ls -A /etc/ssl)$(ls -A /usr/lib/ssl)" ]; then echo "namespace: Debian trust paths still visible"; exit 90; fi
    if [ -n "$bundle" ]; then
      mkdir -p /etc/pki/tls/certs
      cp "$bundle" /etc/pki/tls/certs/ca-bundle.crt
    fi
    exec "$@"' sh "$work/ns-$name" "$bundle" \
    env -i PATH=/usr/bin:/bin AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIDORDERLYCATEST \
    AWS_SECRET_ACCESS_KEY=orderly-ca-test-secret ORDERLY_STORE=dynamodb \
    ORDERLY_TABLE=orderly-ca-test ORDERLY_DYNAMODB_ENDPOINT="https://127.0.0.1:$port" \
    _HANDLER=api AWS_LAMBDA_FUNCTION_NAME=orderly-inventory-api "$@" "$bootstrap" \
    >"$work/$name.out" 2>&1 && rc=0 || rc=$?
  echo "$rc" >"$work/$name.rc"
}

status=0
fail() {
  echo "FAIL $1: $2"
  sed 's/^/    /' "$work/$1.out"
  status=1
}
requests() { grep -c '^request ' server.log || true; }

# Expect the handshake to succeed: a signed DynamoDB request reached the server,
# and the bootstrap failed its init on the server's answer, not on TLS.
expect_handshake() {
  local name="$1" bundle="$2" before lines
  shift 2
  before="$(requests)"
  lines="$(wc -l <server.log)"
  run "$name" "$bundle" "$@"
  if [[ "$(cat "$work/$name.rc")" == 90 ]]; then fail "$name" "namespace setup"; return; fi
  if grep -q 'TLS handshake with' "$work/$name.out"; then
    fail "$name" "TLS handshake failed (server: $(tail -n +"$((lines + 1))" server.log | grep tls-error | tail -1))"
  elif ! grep -q 'orderly-ca-test-marker' "$work/$name.out"; then
    fail "$name" "the server's answer is not in the bootstrap's output (rc $(cat "$work/$name.rc"))"
  elif (($(requests) <= before)) || ! tail -n +"$((before + 1))" <(grep '^request ' server.log) |
    grep -q 'target=DynamoDB_20120810\.[A-Za-z]* signed=true'; then
    fail "$name" "no signed DynamoDB request reached the server"
  else
    echo "ok   $name: handshake done, $(grep '^request ' server.log | tail -1)"
  fi
}

# Expect verification to fail closed: no request reaches the server.
expect_verify_failure() {
  local name="$1" bundle="$2" before
  shift 2
  before="$(requests)"
  run "$name" "$bundle" "$@"
  if [[ "$(cat "$work/$name.rc")" == 90 ]]; then fail "$name" "namespace setup"; return; fi
  if ! grep -q 'TLS handshake with 127.0.0.1: certificate verify failed' "$work/$name.out"; then
    fail "$name" "expected 'certificate verify failed'"
  elif (($(requests) != before)); then
    fail "$name" "a request reached the server without a verified handshake"
  else
    echo "ok   $name: $(grep -o 'TLS handshake with 127.0.0.1: certificate verify failed[^"]*' "$work/$name.out" | head -1)"
  fi
}

expect_handshake al2023_bundle "$work/ca.pem"
expect_handshake al2023_ssl_cert_file "$work/ca.pem" SSL_CERT_FILE=/etc/pki/tls/certs/ca-bundle.crt
expect_verify_failure other_ca "$work/other.pem"
expect_verify_failure no_bundle ""
exit "$status"
