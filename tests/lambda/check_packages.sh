#!/usr/bin/env bash
# Checks the Lambda packages: build/lambda/<service>.zip holds exactly an
# executable `bootstrap`, which needs only glibc (libstdc++, libgcc and the
# third-party libraries are linked in), no glibc symbol newer than
# GLIBC_2.34, the glibc of Amazon Linux 2023 (provided.al2023), and no more
# than 2 MB zipped (issue 10's goal; ADR 0018).
#
#   tests/lambda/check_packages.sh build/lambda
set -euo pipefail
dir="${1:?usage: check_packages.sh LAMBDA_DIR}"
floor="2.34"
max_zip=2000000  # bytes: "2 MB", read strictly
status=0
for service in orders inventory payments shipping notifications; do
  zip="$dir/$service.zip"
  bin="$dir/$service/bootstrap"
  if [[ ! -f "$zip" || ! -f "$bin" ]]; then
    echo "FAIL $service: $zip or $bin is missing (make build)"; status=1; continue
  fi
  # The zip: one entry, 'bootstrap', mode rwxr-xr-x, identical to the built binary.
  if ! /usr/bin/python3 - "$zip" "$bin" <<'PY'
import sys, zipfile, hashlib
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
assert names == ["bootstrap"], f"entries {names}, expected ['bootstrap']"
info = z.getinfo("bootstrap")
mode = (info.external_attr >> 16) & 0o777
assert mode == 0o755, f"bootstrap mode {oct(mode)}, expected 0o755"
assert hashlib.sha256(z.read("bootstrap")).digest() == hashlib.sha256(open(sys.argv[2], "rb").read()).digest(), \
    "zipped bootstrap differs from the built one"
PY
  then echo "FAIL $service: bad zip"; status=1; continue; fi
  zip_bytes=$(stat -c %s "$zip")
  if ((zip_bytes > max_zip)); then
    echo "FAIL $service: $zip is $zip_bytes bytes, over $max_zip"; status=1; continue
  fi
  # Neither SQLite nor OpenSSL belongs in a bootstrap (ADR 0018): strings each always brings
  # (the database header; the signature in libcrypto's assembly).
  for lib in "SQLite format 3" "appro@openssl.org"; do
    if grep -qaF "$lib" "$bin"; then echo "FAIL $service: the bootstrap holds '$lib'"; status=1; continue 2; fi
  done
  needed=$(objdump -p "$bin" | awk '/NEEDED/ {print $2}' | sort | tr '\n' ' ')
  for lib in $needed; do
    case "$lib" in
      libc.so.6|libm.so.6|ld-linux-x86-64.so.2) ;;
      *) echo "FAIL $service: needs $lib (only glibc may stay dynamic)"; status=1 ;;
    esac
  done
  newest=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
  if [[ -z "$newest" ]]; then echo "FAIL $service: no GLIBC versions found (is it dynamic?)"; status=1; continue; fi
  if [[ "$(printf '%s\n%s\n' "$newest" "$floor" | sort -V | tail -1)" != "$floor" ]]; then
    echo "FAIL $service: needs GLIBC_$newest > GLIBC_$floor:"
    objdump -T "$bin" | grep -E "GLIBC_($(echo "$newest" | sed 's/\./\\./g'))" | head
    status=1; continue
  fi
  printf 'ok   %-14s zip %8d bytes  bootstrap %8d bytes  newest GLIBC_%s  needs: %s\n' \
    "$service" "$(stat -c %s "$zip")" "$(stat -c %s "$bin")" "$newest" "$needed"
done
exit $status
