#!/usr/bin/env bash
# TLS scan of a freshly started server on its embedded default (built-in
# CA): sslyze must find it compliant with Mozilla's "intermediate"
# configuration (TLS 1.2/1.3 only, AEAD forward-secret suites, no
# compression, secure renegotiation only, certificate lifetime in bounds),
# and every kind of HTTPS answer must carry HSTS.
#
#   scripts/tls-scan.sh [path/to/securechat-server]
#
# sslyze (PyPI) is installed once into a venv under ~/.cache.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/securechat-server}
SSLYZE_VERSION=6.3.1
venv="${XDG_CACHE_HOME:-$HOME/.cache}/securechat-tests/sslyze-$SSLYZE_VERSION"
if ! "$venv/bin/python" -m sslyze --help >/dev/null 2>&1; then
  echo "installing sslyze $SSLYZE_VERSION (needed by the TLS scan)…" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "sslyze==$SSLYZE_VERSION"
fi

dir=$(mktemp -d)
touch "$dir/out"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
# A clean environment for the server's config.
env $(env | sed -n 's/^\(SECURECHAT_[A-Z_]*\)=.*/-u \1/p') \
  "$bin" --data-dir "$dir/data" --bind 127.0.0.1:0 --log warn >"$dir/out" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$dir/out" && break
  sleep 0.1
done
url=$(sed -n 's/^SecureChat is listening on \(https:[^ ]*\).*/\1/p' "$dir/out")
[ -n "$url" ] || { cat "$dir/out"; echo "tls-scan: the server did not start" >&2; exit 1; }
target=${url#https://}
ca="$dir/data/tls/ca.pem"

failed=0
if "$venv/bin/python" -m sslyze "$target" --certinfo_ca_file "$ca" \
  --mozilla_config=intermediate --json_out "$dir/scan.json" >"$dir/scan.txt" 2>&1; then
  echo "tls-scan: $target is compliant with Mozilla's intermediate configuration"
  "$venv/bin/python" - "$dir/scan.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["server_scan_results"][0]["scan_result"]
for key, name in [("ssl_2_0", "SSL 2.0"), ("ssl_3_0", "SSL 3.0"), ("tls_1_0", "TLS 1.0"),
                  ("tls_1_1", "TLS 1.1"), ("tls_1_2", "TLS 1.2"), ("tls_1_3", "TLS 1.3")]:
    accepted = r[key + "_cipher_suites"]["result"]["accepted_cipher_suites"]
    names = ", ".join(c["cipher_suite"]["name"] for c in accepted) or "refused"
    print(f"  {name}: {names}")
leaf = r["certificate_info"]["result"]["certificate_deployments"][0]["received_certificate_chain"][0]
print(f"  leaf certificate valid {leaf['not_valid_before'][:10]} to {leaf['not_valid_after'][:10]}")
print("  compression:", "on" if r["tls_compression"]["result"]["supports_compression"] else "off")
reneg = r["session_renegotiation"]["result"]
print("  client-initiated renegotiation:", "accepted" if reneg["is_vulnerable_to_client_renegotiation_dos"] else "refused")
PY
else
  cat "$dir/scan.txt"
  echo "tls-scan: sslyze found the configuration NOT compliant" >&2
  failed=1
fi

# HSTS on every kind of answer: the app, an asset, ops, 401, 404, 405.
for path in / /app/app.css /healthz /metrics /ca.pem /api/me /no/such/page; do
  headers=$(curl -sS --cacert "$ca" -o /dev/null -D - "$url$path")
  if ! grep -qi '^strict-transport-security: max-age=' <<<"$headers"; then
    echo "tls-scan: no HSTS on $path" >&2
    failed=1
  fi
done
headers=$(curl -sS --cacert "$ca" -o /dev/null -D - -X DELETE "$url/healthz")
grep -qi '^strict-transport-security:' <<<"$headers" || { echo "tls-scan: no HSTS on 405" >&2; failed=1; }

if [ "$failed" -eq 0 ]; then
  echo "tls-scan: HSTS present on every answer checked"
else
  exit 1
fi
