#!/usr/bin/env bash
# run_fuzz.sh FUZZER SEED_DIR RUNS: runs a libFuzzer binary for RUNS inputs, starting from the
# seed corpus (read only: what it finds goes to a temporary directory), with a fixed seed so
# that a run is repeatable. Fails on a crash, a failed FUZZ_CHECK, a sanitizer report, a leak
# or an input that takes more than 10 s; the input that did it is printed in base64, to be
# saved under tests/fuzz/corpus/<target>/ once the bug is fixed.
set -euo pipefail
fuzzer=$1 seeds=$2 runs=$3
if [ ! -x "$fuzzer" ]; then
  echo "run_fuzz.sh: no fuzz binary $fuzzer (build it: ./run.sh test builds build/fuzz with clang)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/artifacts"
status=0
"$fuzzer" -seed=1 -runs="$runs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" >"$work/log" 2>&1 || status=$?
grep -E "^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb|INFO: seed corpus)" "$work/log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$work/log"
  for f in "$work/artifacts"/*; do
    [ -e "$f" ] || continue
    echo "input that failed ($(basename "$f"), $(stat -c %s "$f") bytes), base64:"
    base64 -w 76 "$f"
  done
  exit "$status"
fi
echo "run_fuzz.sh: $(basename "$fuzzer"): $runs inputs, no failure"
