#!/usr/bin/env bash
# Detect+classify benchmark pinned to one core (taskset -c 0): fps of ferclassify after
# ferfacedetect method=cnn, ferfacedetect method=cascade and gst-plugins-bad facedetect (other
# properties at their defaults) on the sample clip, the clip at 640x480 (1 face) and the
# five-face photo at 640x480, with the share of frames with a face found; targets: method=cnn
# >= 30 fps at 640x480 and >= 2x facedetect.
# Results also go to BUILD_DIR/bench/gst/bench_gst.txt.
#   Usage: bench/gst/run.sh [BUILD_DIR] [bench_gst options: --model M --frames N --repeat R]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
[ $# -gt 0 ] && shift
ninja -C "$build" bench/gst/bench_gst >/dev/null ||
  { echo "bench/gst/run.sh: cannot build bench/gst/bench_gst in $build" >&2; exit 1; }
export GST_REGISTRY_1_0="$build/bench/gst/gst-registry.bin"
taskset -c 0 "$build/bench/gst/bench_gst" "$@" 2> >(grep -v 'persistence.cpp' >&2) |
  tee "$build/bench/gst/bench_gst.txt"
