#!/usr/bin/env bash
# Builds securechat-crypto for the browser into web/crypto/ (the wasm module
# and its ES-module glue, committed so that the server needs no wasm
# toolchain). `--check` rebuilds into a temp dir and fails if the result
# differs from what is committed (skipped where the wasm target or
# wasm-bindgen is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
out=web/crypto
check=false
[ "${1:-}" = "--check" ] && check=true
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
   || ! command -v wasm-bindgen >/dev/null; then
    if $check; then
        echo "build-wasm: no wasm32 target or wasm-bindgen here; the committed build is used unchecked"
        exit 0
    fi
    echo "build-wasm: needs 'rustup target add wasm32-unknown-unknown' and" \
         "'cargo install wasm-bindgen-cli --version 0.2.130'" >&2
    exit 1
fi
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
# Paths are remapped so the build is the same from any checkout.
RUSTFLAGS="--remap-path-prefix=$target=/target --remap-path-prefix=$PWD=/securechat --remap-path-prefix=$HOME=/home -C opt-level=3 -C codegen-units=1" \
    cargo build --quiet --release --locked -p securechat-crypto-wasm \
    --target wasm32-unknown-unknown --target-dir "$target/build"
wasm-bindgen --target web --no-typescript --out-dir "$target/pkg" \
    "$target/build/wasm32-unknown-unknown/release/securechat_crypto_wasm.wasm"
if $check; then
    for f in securechat_crypto_wasm.js securechat_crypto_wasm_bg.wasm; do
        if ! cmp -s "$target/pkg/$f" "$out/$f"; then
            echo "build-wasm: $out/$f differs from a fresh build: run scripts/build-wasm.sh and commit" >&2
            exit 1
        fi
    done
    echo "build-wasm: web/crypto matches a fresh build"
else
    mkdir -p "$out"
    cp "$target/pkg/securechat_crypto_wasm.js" "$target/pkg/securechat_crypto_wasm_bg.wasm" "$out/"
    ls -l "$out"
fi
