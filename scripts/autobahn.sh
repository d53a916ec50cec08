#!/usr/bin/env bash
# WebSocket conformance: the Autobahn TestSuite cases, run by `kosoku`
# (PyPI; the same case files as Autobahn's Python 2 `wstest -m
# fuzzingclient`, on Python 3) against an echo endpoint built from the
# server's own WebSocket stack and settings (crates/server/examples/
# autobahn_echo.rs). Every case must end OK, NON-STRICT or INFORMATIONAL,
# and every close must be clean.
#
# Excluded, by design: 9.* (messages up to 16 MiB; the server refuses
# messages over max_frame_bytes = 64 KiB with 1009) and 12.*/13.*
# (permessage-deflate: compression is off, so no compression oracle can
# leak message contents).
#
#   scripts/autobahn.sh     reports in target/autobahn/
set -euo pipefail
cd "$(dirname "$0")/.."
KOSOKU_VERSION=0.1.0
venv="${XDG_CACHE_HOME:-$HOME/.cache}/securechat-tests/kosoku-$KOSOKU_VERSION"
if ! "$venv/bin/kosoku" --help >/dev/null 2>&1; then
  echo "installing kosoku $KOSOKU_VERSION (needed by the conformance run)…" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "kosoku==$KOSOKU_VERSION"
fi
cargo build --locked --quiet --example autobahn_echo

out=target/autobahn
rm -rf "$out"
mkdir -p "$out"
target/debug/examples/autobahn_echo 127.0.0.1:0 >"$out/echo.log" 2>&1 &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "listening" "$out/echo.log" && break
  sleep 0.1
done
addr=$(sed -n 's|^echo listening on ws://||p' "$out/echo.log")
[ -n "$addr" ] || { cat "$out/echo.log"; exit 1; }

"$venv/bin/kosoku" -m fuzzingclient -x '9.*' -x '12.*' -x '13.*' -o "$out/reports" "$addr" \
  >"$out/kosoku.log" 2>&1 || { tail -30 "$out/kosoku.log"; exit 1; }

python3 - "$out/reports/index.json" <<'PY'
import collections, json, sys
index = json.load(open(sys.argv[1]))
results = [(case, r) for cases in index.values() for case, r in cases.items()]
behavior = collections.Counter(r["behavior"] for _, r in results)
closing = collections.Counter(r["behaviorClose"] for _, r in results)
bad = [(c, r["behavior"], r["behaviorClose"]) for c, r in results
       if r["behavior"] not in ("OK", "NON-STRICT", "INFORMATIONAL")
       or r["behaviorClose"] not in ("OK", "INFORMATIONAL")]
print(f"autobahn: {len(results)} cases: " + ", ".join(f"{k} {v}" for k, v in behavior.most_common())
      + "; closes: " + ", ".join(f"{k} {v}" for k, v in closing.most_common()))
if not results or bad:
    for b in bad:
        print("autobahn: FAILED", *b)
    sys.exit(1)
PY
