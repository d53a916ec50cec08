#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for SECONDS each (default 10),
# starting from the seeds in fuzz/seeds and the corpus kept from earlier
# runs under target/fuzz/corpus. A crash stops the run and leaves the input
# in fuzz/artifacts/TARGET/: turn it into a regression test.
#
#   scripts/fuzz.sh [SECONDS] [TARGET…]
#
# cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain take them. cargo-fuzz is installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
shift || true
command -v cargo-fuzz >/dev/null 2>&1 || {
  echo "installing cargo-fuzz (needed by the fuzz run)…" >&2
  cargo install --locked --quiet cargo-fuzz
}
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cd fuzz && cargo fuzz list)
build_log=$(mktemp)
(cd fuzz && cargo fuzz build --target-dir ../target/fuzz) >"$build_log" 2>&1 ||
  { cat "$build_log"; echo "fuzz: the targets do not build" >&2; exit 1; }
rm -f "$build_log"
for t in "${targets[@]}"; do
  corpus=target/fuzz/corpus/$t
  mkdir -p "$corpus"
  log=$(mktemp)
  if (cd fuzz && cargo fuzz run --target-dir ../target/fuzz "$t" "../$corpus" seeds/"$t" \
    -- -max_total_time="$secs" -print_final_stats=1) >"$log" 2>&1; then
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log")
    echo "fuzz: $t: ${runs:-?} inputs in ${secs}s, no crash"
    rm -f "$log"
  else
    tail -40 "$log"
    echo "fuzz: $t CRASHED; the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
