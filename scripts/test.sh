#!/usr/bin/env bash
# The whole test suite: unit, property and integration tests of every crate
# (real server, real TLS, real SQLite; hostile input; the chaos run), the
# server's integration suite again on a real PostgreSQL (a throwaway cluster
# on loopback, see scripts/services.sh) with the several-node tests (their
# own nats-server), the
# Debian package (built, its systemd unit checked, installed and run),
# the TLS scan (sslyze), WebSocket conformance (Autobahn cases), a short run of
# every fuzz target, then the web app's end-to-end tests in headless
# Chromium. Installs what the tests need when it is missing: openssl, curl,
# tmux (the terminal client's end-to-end test), haproxy (the reverse-proxy
# test), pebble (the ACME test CA), Debian's chromium (and its
# emoji font, for the screenshots), postgresql, nats-server, the npm
# packages of tests/web, and (in ~/.cache, ~/.cargo/bin) sslyze, kosoku and
# cargo-fuzz. FUZZ_SECONDS (default 10) sets the fuzz run per target.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need_apt=()
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
# The reverse-proxy test (crates/server/tests/it/proxy.rs).
[ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)
# The ACME test (crates/server/tests/it/acme.rs): Let's Encrypt's test CA.
[ -x /usr/bin/pebble ] || need_apt+=(pebble)
# The package test (tests/packaging/deb.sh): its unit and its postinst.
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
[ -x /usr/sbin/adduser ] || need_apt+=(adduser)
# Emoji in the browser tests' screenshots (reactions, the picker).
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need_apt+=(fonts-noto-color-emoji)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (needed by the tests)…" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ ! -d tests/web/node_modules/playwright-core ] || [ ! -d tests/web/node_modules/axe-core ]; then
  echo "installing the browser-test packages (npm ci)…" >&2
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo test --workspace --locked "$@"

# The same server suite on the other backend, and several nodes on it.
source scripts/services.sh
start_postgres
need_nats
cargo test -p securechat-server --locked --test it "$@"
# The chaos run with three nodes: SIGKILLed nodes, cut links, NATS restarts.
CHAOS_NODES=3 CHAOS_SECS=30 cargo test -p securechat-server --locked --test chaos "$@"
# The chaos run in encrypted rooms: every client a device; keys shared
# through the same faults; nothing undecryptable.
CHAOS_E2E=1 CHAOS_USERS=12 CHAOS_SECS=20 cargo test -p securechat-server --locked --test chaos "$@"

cargo build --locked --bin securechat-server --bin securechat
# The browser's crypto module is the committed build of crates/crypto-wasm:
# rebuilt and compared where the wasm target is installed.
scripts/build-wasm.sh --check
# The Debian package: built, its unit checked, installed, served, purged.
tests/packaging/deb.sh target/debug
scripts/tls-scan.sh target/debug/securechat-server
scripts/autobahn.sh
scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
(cd tests/web && WEBTEST_SERVER_BIN="$PWD/../../target/debug/securechat-server" node --test --test-concurrency=1)
