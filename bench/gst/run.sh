#!/usr/bin/env bash
# GStreamer benchmark pinned to one core: fps of ferfacedetect+ferclassify vs gst-plugins-bad
# facedetect on the sample clip, the clip at 640x480 and the five-face photo at 640x480.
#   Usage: bench/gst/run.sh [BUILD_DIR] [bench_gst options]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
[ $# -gt 0 ] && shift
exe="$build/bench/gst/bench_gst"
[ -x "$exe" ] || { echo "bench/gst/run.sh: $exe not built (ninja -C $build)" >&2; exit 1; }
export GST_REGISTRY_1_0="$build/bench/gst/gst-registry.bin"
exec taskset -c 0 "$exe" "$@"
