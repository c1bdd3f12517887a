#!/usr/bin/env bash
# Fuzzes one target for $FER_FUZZ_SECONDS seconds (default 20); run by the meson tests
# fuzz_run_<target> of a -Dfuzz=enabled build (tests/fuzz/run.sh runs them).
#   fuzz_one.sh BINARY TARGET MAX_LEN SOURCE_DIR OUT_DIR
# Seeds: OUT_DIR/TARGET/corpus (new inputs are written there, a scratch folder), then the
# committed SOURCE_DIR/corpus/TARGET, and SOURCE_DIR/pending/TARGET when FER_FUZZ_PENDING=1.
# On a crash: exit 1 and print the path of the saved input and the end of the fuzzer's log.
set -uo pipefail
bin=$1 target=$2 max_len=$3 src=$4 out=$5
secs=${FER_FUZZ_SECONDS:-20}
work="$out/$target"
mkdir -p "$work/corpus" "$work/crashes"
rm -rf "$work/crashes"/* "$work/fuzz.log" "$work/tmp"
# the targets' scratch files (libFuzzer ends with _Exit, so they cannot clean up after themselves)
export TMPDIR="$work/tmp"
mkdir -p "$TMPDIR"
seeds=("$work/corpus" "$src/corpus/$target")
if [ "${FER_FUZZ_PENDING:-0}" = 1 ] && [ -d "$src/pending/$target" ]; then
  seeds+=("$src/pending/$target")
fi
root="$(cd "$src/../.." && pwd)"
# halt_on_error: a UBSan report is a crash; the LSan suppressions are the CI's (GLib type system).
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}abort_on_error=1"
export LSAN_OPTIONS="suppressions=$root/.ci/lsan.supp"
"$bin" -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
  -close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$work/crashes/" "${seeds[@]}" \
  >"$work/fuzz.log" 2>&1
rc=$?
rm -rf "$TMPDIR"
stats=$(grep -E '^stat::number_of_executed_units' "$work/fuzz.log" | awk '{print $2}')
if [ $rc -ne 0 ]; then
  crash=$(ls -1 "$work/crashes"/* 2>/dev/null | head -n 1)
  echo "fuzz: $target FAILED (exit $rc) after ${stats:-?} runs; input: ${crash:-(none saved)}"
  grep -m 1 -E 'FUZZ FINDING|ERROR: |runtime error|SUMMARY' "$work/fuzz.log" || true
  echo "--- end of $work/fuzz.log ---"
  tail -n 60 "$work/fuzz.log"
  exit 1
fi
echo "fuzz: $target ok, $secs s, ${stats:-?} runs, corpus $(ls -1 "$work/corpus" | wc -l) new files"
