#!/usr/bin/env bash
# Live expression recognition from a webcam: v4l2src -> ferfacedetect -> ferclassify ->
# feroverlay -> display.   Usage: pipelines/webcam.sh [DEVICE]   (default /dev/video0)
# Env: FER_BUILD_DIR, FER_MODEL (see pipelines/fer-env.sh), FER_SINK (default autovideosink).
# decodebin takes raw and MJPEG cameras alike.
set -euo pipefail
source "$(dirname "$0")/fer-env.sh"

device="${1:-/dev/video0}"
if [ ! -e "$device" ]; then
  cams="$(ls /dev/video* 2>/dev/null | tr '\n' ' ' || true)"
  if [ -n "$cams" ]; then
    fer_die "no camera at $device (found: $cams); pass one, e.g. $0 ${cams%% *}"
  fi
  fer_die "no camera found ($device does not exist and there is no /dev/video*);" \
    "to try the elements without a camera, run pipelines/annotate-clip.sh on a video file"
fi
[ -r "$device" ] || fer_die "$device: permission denied (are you in the 'video' group?)"

sink="${FER_SINK:-autovideosink}"
if [ "$sink" = autovideosink ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  fer_die "no display (DISPLAY/WAYLAND_DISPLAY unset); set FER_SINK, e.g. FER_SINK=fakesink"
fi

echo "webcam: $device -> ferfacedetect -> ferclassify -> feroverlay -> $sink (Ctrl-C to stop)"
exec gst-launch-1.0 -e \
  v4l2src device="$device" ! decodebin ! videoconvert ! \
  ferfacedetect ! ferclassify "${fer_model_arg[@]}" ! \
  feroverlay show-probabilities=true ! videoconvert ! "$sink" sync=false
