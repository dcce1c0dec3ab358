#!/bin/bash
# Runs every unit test binary given on the command line (Criterion, TAP output: one line per test) and every
# tests/integration/*.sh script, then prints one summary. Exit status 1 when anything failed.
#   HB_TEST_FILTER=glob   run only the unit tests whose "suite/name" matches (Criterion --filter)
#   HB_TEST_JOBS=N        Criterion workers per binary (default: 2)
set -u
cd "$(dirname "$0")/.."
export HB_ROOT=$PWD
export HB_SHARED=${HB_SHARED:-$(cd .. && pwd)/shared}
export HB_BIN=${HB_BIN:-$PWD/bin}
export HB_PROGRESS=0
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
pass=0; fail=0; failed=()
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
filter=()
[ -n "${HB_TEST_FILTER:-}" ] && filter=(--filter "$HB_TEST_FILTER")
for t in "$@"; do
  name=$(basename "$t")
  start=$(date +%s.%N)
  "$t" --tap -j"${HB_TEST_JOBS:-2}" "${filter[@]}" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  grep -E '^(ok|not ok)' "$tmp/out" | sed "s/^/  [$name] /"
  p=$(grep -cE '^ok' "$tmp/out"); f=$(grep -cE '^not ok' "$tmp/out")
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; echo "  [$name] not ok - binary exited with $rc"; fi
  if [ "$f" != 0 ]; then failed+=("$name"); grep -vE '^(ok|TAP|1\.\.)' "$tmp/out" | grep -v '^# ' | head -60; head -40 "$tmp/err"; fi
  printf '  %-28s %3d passed %3d failed  %6.1fs\n' "$name" "$p" "$f" "$secs"
  pass=$((pass + p)); fail=$((fail + f))
done
if [ -z "${HB_TEST_FILTER:-}" ]; then
  for s in tests/integration/*.sh; do
    [ -e "$s" ] || continue
    name=$(basename "$s" .sh)
    start=$(date +%s.%N)
    if bash "$s" >"$tmp/out" 2>&1; then
      pass=$((pass + 1)); status=ok
    else
      fail=$((fail + 1)); failed+=("$name"); status="not ok"; tail -30 "$tmp/out"
    fi
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    printf '  [integration] %s - %s  (%.1fs)\n' "$status" "$name" "$secs"
  done
fi
echo "=========================================="
echo "tests: $pass passed, $fail failed"
if [ "$fail" != 0 ]; then echo "failed: ${failed[*]}"; exit 1; fi
