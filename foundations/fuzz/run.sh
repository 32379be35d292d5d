#!/usr/bin/env bash
# Build every fuzz target with libFuzzer's coverage instrumentation on the stable toolchain (the
# same LLVM flags cargo-fuzz passes, minus the nightly-only sanitizer) and run each for N seconds.
# Usage: foundations/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"; shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(log_record_batch log_segment log_index kv_wal kv_sstable kv_manifest ledger_codec journal_block recon_parsers config_parsers)
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
target_dir="${FUZZ_TARGET_DIR:-target}"
# An explicit --target keeps RUSTFLAGS away from build scripts.
cargo build --release --locked --target "$triple" --target-dir "$target_dir" $(printf -- '--bin %s ' "${targets[@]}")
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "== $t for ${secs}s"
    # New inputs go to corpus/ (not tracked); seeds/ holds tracked examples of valid inputs.
    seeds=(); [ -d "seeds/$t" ] && seeds=("seeds/$t")
    "$target_dir/$triple/release/$t" -max_total_time="$secs" -artifact_prefix="artifacts/$t/" "corpus/$t" "${seeds[@]}" 2>&1 \
        | grep -E "^(Done|==|.*(ERROR|panicked|deadly))" || true
done
