#!/bin/bash
# Run the libFuzzer harnesses (docs/testing.md "Fuzzing"): each for SECONDS (default 60) on its committed seeds
# tests/fuzz/corpus/<name>/ plus what earlier runs found (build-fuzz/corpus/<name>/, where new inputs are kept),
# one at a time on one core. Crashes, leaks, timeouts and out-of-memory inputs are written to
# build-fuzz/artifacts/<name>/; the log of each run to build-fuzz/logs/<name>.log. Exits 1 when any harness failed.
#   make fuzz && tests/fuzz/run.sh [SECONDS] [NAME...]        NAME: shard, tokenizer, ... (default: all)
# Reproduce a finding: build-fuzz/fuzz/fuzz_<name> build-fuzz/artifacts/<name>/crash-...
set -uo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60}
[ $# -gt 0 ] && shift
NAMES=("$@")
if [ ${#NAMES[@]} -eq 0 ]; then
    for f in build-fuzz/fuzz/fuzz_*; do NAMES+=("${f##*/fuzz_}"); done
fi
[ -x "build-fuzz/fuzz/fuzz_${NAMES[0]}" ] || { echo "run.sh: build the harnesses first: make fuzz" >&2; exit 2; }

# Per-harness limits: inputs are kept near the size of real files' interesting parts; -timeout flags a single input
# slower than that many seconds (a hang or super-linear behaviour), -rss_limit_mb / -malloc_limit_mb an input that
# makes hb allocate far more than its size justifies.
opts() {
    local o="-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024"
    case $1 in
        tokenizer_load) o+=" -max_len=300000" ;;
        tokenizer) o+=" -max_len=16384" ;;
        image | archive) o+=" -max_len=65536" ;;
        sources | jsplit | shard | imgstore) o+=" -max_len=32768" ;;
        *) o+=" -max_len=8192" ;;
    esac
    echo "$o"
}

export HB_PROGRESS=0 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p build-fuzz/logs
fail=0
printf '%-16s %8s %10s %8s %8s %7s  %s\n' harness seconds execs exec/s cov ft result
for n in "${NAMES[@]}"; do
    bin=build-fuzz/fuzz/fuzz_$n
    [ -x "$bin" ] || { echo "run.sh: no harness $bin" >&2; fail=1; continue; }
    mkdir -p "build-fuzz/corpus/$n" "build-fuzz/artifacts/$n" "tests/fuzz/corpus/$n"
    log=build-fuzz/logs/$n.log
    start=$(date +%s)
    # shellcheck disable=SC2046
    "$bin" $(opts "$n") -max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$n/" \
        "build-fuzz/corpus/$n" "tests/fuzz/corpus/$n" > "$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    if [ $rc -eq 0 ]; then res=ok; else res="FAILED (rc $rc, see $log)"; fail=1; fi
    printf '%-16s %8s %10s %8s %8s %7s  %s\n' "$n" "$secs" "${execs:--}" "${speed:--}" "${cov:--}" "${ft:--}" "$res"
done
exit $fail
