#!/usr/bin/env bash
# Runs every libFuzzer target (or the ones named) for N seconds each, one after the other,
# on nightly, and prints each target's final libFuzzer statistics (docs/fuzzing.md).
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, all targets
#   FUZZ_LOG_DIR=/tmp/fuzz fuzz/run.sh 900           keep full logs there
#   FUZZ_COVERAGE=1 fuzz/run.sh 60 mime              also `cargo fuzz coverage` (llvm-cov)
#
# New inputs libFuzzer finds go to fuzz/target/corpus/<target> (scratch, not checked in);
# the checked-in seeds in fuzz/corpus/<target> and fuzz/regressions/<target> are read only.
# Crashes land in fuzz/artifacts/<target>/; the script exits non-zero if any target crashed.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(validate template mime address encoding)
fi
log_dir="${FUZZ_LOG_DIR:-fuzz/target/logs}"
mkdir -p "$log_dir"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi
cargo +nightly fuzz build -O -a

failed=()
summary=()
for t in "${targets[@]}"; do
    scratch="fuzz/target/corpus/$t"
    mkdir -p "$scratch" "fuzz/artifacts/$t"
    log="$log_dir/$t.log"
    echo "== $t: ${seconds}s, log $log" >&2
    start=$(date +%s)
    # Scratch corpus first: libFuzzer writes new inputs to the first directory only.
    dirs=("$scratch" "fuzz/corpus/$t")
    if [ -d "fuzz/regressions/$t" ]; then
        dirs+=("fuzz/regressions/$t")
    fi
    if cargo +nightly fuzz run -O -a "$t" "${dirs[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict=fuzz/dict/"$t".dict >"$log" 2>&1; then
        status=ok
    else
        status=CRASH
        failed+=("$t")
    fi
    elapsed=$(( $(date +%s) - start ))
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    rate=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
    summary+=("$(printf '%-9s %-6s %5ss execs=%s exec/s=%s corpus=%s | %s' "$t" "$status" "$elapsed" \
        "${execs:-?}" "${rate:-?}" "$(ls "$scratch" | wc -l)" "${done_line:-$(tail -n 1 "$log")}")")
    if [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
        cargo +nightly fuzz coverage "$t" "$scratch" "fuzz/corpus/$t" >>"$log" 2>&1 || true
    fi
done

printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
