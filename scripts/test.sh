#!/usr/bin/env bash
# The whole test suite: unit, property and integration tests of every crate.
# Installs what the tests need when it is missing (openssl for the TLS
# version test; the Rust toolchain must already be there).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v openssl >/dev/null 2>&1; then
  echo "installing openssl (used by the TLS tests)…" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq openssl >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq openssl >/dev/null; fi
fi

cargo test --workspace --locked "$@"
