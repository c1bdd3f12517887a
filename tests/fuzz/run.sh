#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage) and fuzzes each for SECONDS.
#
#   tests/fuzz/run.sh [options] SECONDS
#     --build DIR     build folder (default: build-fuzz at the repository root)
#     --only A,B      only these targets (default: all; see tests/fuzz/meson.build)
#     --jobs N        targets fuzzed at once (default: the number of cores, at most 4)
#     --pending       also seed from tests/fuzz/pending/<target>/ (known crashers not yet fixed)
#     --save          merge (minimise) what the run found into tests/fuzz/corpus/<target>/
#
# New inputs go to DIR/tests/fuzz/out/<target>/corpus (a scratch folder kept between runs), crashing
# inputs to DIR/tests/fuzz/out/<target>/crashes/. Exit status 0 when no target crashed; otherwise 1,
# with each failing target's crashing input path and the end of its log printed. The fuzzing runs
# are the meson tests of suite 'fuzz-run' in DIR, so DIR/meson-logs/testlog.json records them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

build=build-fuzz only="" jobs="" pending=0 save=0 secs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --pending) pending=1; shift ;;
    --save) save=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) secs=$1; shift ;;
  esac
done
case "$secs" in
  ''|*[!0-9]*) echo "usage: tests/fuzz/run.sh [--build DIR] [--only A,B] [--jobs N] [--pending] [--save] SECONDS" >&2; exit 2 ;;
esac
if [ -z "$jobs" ]; then
  jobs=$(nproc 2>/dev/null || echo 2)
  [ "$jobs" -gt 4 ] && jobs=4
fi
command -v clang >/dev/null || { echo "fuzz: clang not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

# Coverage instrumentation for every library (fuzzer-no-link); the targets link libFuzzer
# (tests/fuzz/meson.build). UBSan findings abort instead of printing and going on.
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" --buildtype=debugoptimized -Dfuzz=enabled -Dcuda=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
    >"$root/$build.setup.log" 2>&1 || { cat "$root/$build.setup.log" >&2; echo "fuzz: meson setup failed" >&2; exit 1; }
  rm -f "$root/$build.setup.log"
fi
grep -q 'fuzz-targets' "$build/build.ninja" || {
  echo "fuzz: $build is not a clang -Dfuzz=enabled build folder; remove it or pass --build DIR" >&2
  exit 2
}
ninja -C "$build" -j "$(nproc 2>/dev/null || echo 2)" fuzz-targets >/dev/null || { ninja -C "$build" -j 2 fuzz-targets | tail -n 30; exit 1; }

suite_args=(--suite fuzz-run)
if [ -n "$only" ]; then
  suite_args=()
  IFS=, read -ra names <<<"$only"
  for n in "${names[@]}"; do suite_args+=("fuzz_run_$n"); done
fi
# The meson timeout (600 s) times this multiplier must cover SECONDS plus start-up.
mult=$(( (secs + 120) / 600 + 1 ))
status=0
FER_FUZZ_SECONDS=$secs FER_FUZZ_PENDING=$pending \
  meson test -C "$build" --no-rebuild --print-errorlogs --num-processes "$jobs" \
  --timeout-multiplier "$mult" "${suite_args[@]}" || status=1

if [ "$save" = 1 ]; then
  for dir in "$build"/tests/fuzz/out/*/corpus; do
    t=$(basename "$(dirname "$dir")")
    [ -x "$build/tests/fuzz/fuzz_$t" ] || continue
    mkdir -p "$here/corpus/$t"
    "$build/tests/fuzz/fuzz_$t" -merge=1 -rss_limit_mb=2048 -timeout=10 "$here/corpus/$t" "$dir" \
      >"$build/tests/fuzz/out/$t/merge.log" 2>&1 || { echo "fuzz: merge of $t failed (see $build/tests/fuzz/out/$t/merge.log)"; status=1; }
    echo "fuzz: corpus/$t now $(ls -1 "$here/corpus/$t" | wc -l) files, $(du -sk "$here/corpus/$t" | cut -f1) KiB"
  done
fi
[ $status = 0 ] && echo "fuzz: no target crashed in $secs s each" || echo "fuzz: FAILED (see above)"
exit $status
