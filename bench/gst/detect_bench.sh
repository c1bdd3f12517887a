#!/usr/bin/env bash
# Face detection benchmark (not a test): frames per second of ferfacedetect against
# gst-plugins-bad facedetect (its defaults) on the same input in the same run, pinned to one
# core (taskset -c 0), and the share of frames in which each found a face.
#   Usage: bench/gst/detect_bench.sh [BUILD_DIR]          (default: ./build)
# Inputs:
#   clip400   data/samples/cap13_edit2.mp4 as is (400x300, 765 frames, one face)
#   clip640   the same clip scaled to 640x480
#   faces640  640x480, 150 frames panning/zooming over data/samples/sample5.jpg (five faces;
#             made once with python3-skimage + x264enc into BUILD_DIR/bench/gst/, else a still)
# Each pipeline decodes, converts and detects; "decode only" gives the shared cost, and
# "det ms" is the detector's own time per frame (pipeline minus decode only).
# Results are also written to BUILD_DIR/bench/gst/detect_bench.txt.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
plugin_dir="$build/gst-plugin"
out_dir="$build/bench/gst"
mkdir -p "$out_dir"
[ -e "$plugin_dir/libgstfer.so" ] || { echo "detect_bench: $plugin_dir/libgstfer.so not built (ninja -C $build)" >&2; exit 1; }
export GST_PLUGIN_PATH_1_0="$plugin_dir"
export GST_REGISTRY_1_0="$out_dir/gst-registry-detect-bench.bin"
gst-inspect-1.0 ferfacedetect >/dev/null 2>&1 || { echo "detect_bench: ferfacedetect not loadable from $plugin_dir" >&2; exit 1; }
have_facedetect=1
gst-inspect-1.0 facedetect >/dev/null 2>&1 || have_facedetect=0

clip="$root/data/samples/cap13_edit2.mp4"
photo="$root/data/samples/sample5.jpg"
[ -f "$clip" ] && [ -f "$photo" ] || { echo "detect_bench: samples missing (data/samples/fetch.sh)" >&2; exit 1; }

# --- the five-face 640x480 clip -----------------------------------------------------------
faces640="$out_dir/faces640.mp4"
if [ ! -s "$faces640" ]; then
  if /usr/bin/python3 -c "import skimage" 2>/dev/null; then
    echo "detect_bench: making $faces640 (once)..." >&2
    /usr/bin/python3 - "$photo" 150 <<'PY' | gst-launch-1.0 -q fdsrc blocksize=921600 ! \
        rawvideoparse width=640 height=480 format=rgb framerate=25/1 ! videoconvert ! \
        x264enc speed-preset=medium bitrate=2000 ! video/x-h264,profile=high ! mp4mux ! \
        filesink location="$faces640.tmp"
# Pan and zoom over the photo (all five faces stay in view), 640x480 RGB frames to stdout.
import sys
import numpy as np
from skimage import io, transform
src = io.imread(sys.argv[1])[..., :3]
n = int(sys.argv[2])
H, W = src.shape[:2]
for i in range(n):
    t = 0.5 - 0.5 * np.cos(2 * np.pi * i / n)
    cw = 1864 - t * 264
    ch = cw * 0.75
    cx = 960 + 40 * np.sin(2 * np.pi * i / n)
    x0 = int(round(min(max(cx - cw / 2, 0), W - cw)))
    y0 = int(round(min(max(660 - ch / 2, 0), H - ch)))
    crop = src[y0:y0 + int(ch), x0:x0 + int(cw)]
    frame = transform.resize(crop, (480, 640), anti_aliasing=True)
    sys.stdout.buffer.write((frame * 255).round().astype(np.uint8).tobytes())
PY
    mv "$faces640.tmp" "$faces640"
  fi
fi
if [ -s "$faces640" ]; then
  faces_src="filesrc location=\"$faces640\" ! decodebin"
  faces_note="pan/zoom over sample5.jpg"
else
  faces_src="filesrc location=\"$photo\" ! jpegdec ! videoconvert ! videoscale ! video/x-raw,width=640,height=480,pixel-aspect-ratio=1/1 ! imagefreeze num-buffers=150"
  faces_note="sample5.jpg still (no python3-skimage)"
fi

declare -A SRC=(
  [clip400]="filesrc location=\"$clip\" ! decodebin"
  [clip640]="filesrc location=\"$clip\" ! decodebin ! videoscale ! video/x-raw,width=640,height=480"
  [faces640]="$faces_src"
)

# Runs one pipeline on core 0; prints "cpu_seconds wall_seconds frames_with_face total_faces".
# CPU time (user + sys of all the pipeline's threads, all on core 0) is the measure: on a
# shared machine the wall clock also counts other processes' turns on that core. The faces are
# read from ferfacedetect's per-frame log line or facedetect's per-frame element message (one
# line per frame: no measurable cost).
run() { # PIPELINE KIND(ours|facedetect|none)
  local log="$out_dir/detect_bench.log" times="$out_dir/detect_bench.time"
  local timed="/usr/bin/time -f '%U %S %e' -o '$times' taskset -c 0 gst-launch-1.0"
  case "$2" in
    ours) eval "GST_DEBUG=ferfacedetect:6 GST_DEBUG_NO_COLOR=1 $timed -q $1" >/dev/null 2>"$log" ;;
    facedetect) eval "$timed -m $1" >"$log" 2>&1 ;;
    *) eval "$timed -q $1" >/dev/null 2>"$log" ;;
  esac || { echo "detect_bench: pipeline failed: $1" >&2; tail -5 "$log" >&2; exit 1; }
  local cpu_wall
  cpu_wall=$(awk '{ printf "%.3f %.3f", $1 + $2, $3 }' "$times")
  case "$2" in
    ours) sed -n 's/.* \([0-9][0-9]*\) faces.*/\1/p' "$log" |
            awk '{ if ($1 > 0) f++; n += $1 } END { printf "%d %d\n", f, n }' ;;
    facedetect) grep '(element): facedetect' "$log" |
            awk -F'"face\\\\,' '{ f++; n += NF - 1 } END { printf "%d %d\n", f, n }' ;;
    *) echo 0 0 ;;
  esac | { read -r w n; echo "$cpu_wall $w $n"; }
}

count_frames() { # frames through the pipeline
  eval "gst-launch-1.0 $1 ! videoconvert ! fakesink silent=false -v" 2>/dev/null |
    grep -c "last-message = chain" || true
}

report="$out_dir/detect_bench.txt"
partial="$report.partial" # renamed into place when complete
{
  echo "# detect_bench $(date -u +%Y-%m-%dT%H:%M:%SZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), taskset -c 0"
  echo "# faces640: $faces_note"
  echo "# fps = frames / CPU seconds of the whole pipeline (decode included); det ms = CPU ms per"
  echo "# frame beyond \"decode only\"; wall fps for reference (the core may be shared)"
  printf '%-9s %-40s %6s %7s %8s %8s %14s %11s\n' input element frames fps "wall fps" "det ms" "with face" "faces/frame"
} | tee "$partial"

for input in clip400 clip640 faces640; do
  src="${SRC[$input]}"
  frames=$(count_frames "$src")
  read -r t_dec w_dec _ _ < <(run "$src ! videoconvert ! video/x-raw,format=I420 ! fakesink sync=false" none)
  awk -v in_="$input" -v n="$frames" -v t="$t_dec" -v w="$w_dec" 'BEGIN {
    printf "%-9s %-40s %6d %7.1f %8.1f %8s %14s %11s\n", in_, "decode only", n, n / t, n / w, "-", "-", "-" }' |
    tee -a "$partial"
  variants=("ferfacedetect" "ferfacedetect detect-every=2" "ferfacedetect exhaustive=true"
    "ferfacedetect cascade=/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml")
  [ "$have_facedetect" = 1 ] && variants+=("facedetect")
  for el in "${variants[@]}"; do
    pipe="$src ! videoconvert ! $el ! fakesink sync=false"
    kind=ours
    [ "$el" = facedetect ] && kind=facedetect
    read -r t wall with total < <(run "$pipe" "$kind")
    label="${el/cascade=\/usr\/share\/opencv4\/lbpcascades\//}"
    awk -v e="$label" -v in_="$input" -v n="$frames" -v t="$t" -v wl="$wall" -v td="$t_dec" -v w="$with" -v f="$total" 'BEGIN {
      printf "%-9s %-40s %6d %7.1f %8.1f %8.2f %5d (%5.1f%%) %11.2f\n", in_, e, n, n / t, n / wl,
        1000 * (t - td) / n, w, 100 * w / n, f / n }' | tee -a "$partial"
  done
done
[ "$have_facedetect" = 1 ] || echo "# facedetect (gstreamer1.0-opencv) not installed: no comparison" | tee -a "$partial"
mv "$partial" "$report"
echo "detect_bench: results in $report" >&2
