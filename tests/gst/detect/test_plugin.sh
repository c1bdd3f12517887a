#!/usr/bin/env bash
# The built plugin as users run it (gst-launch-1.0 with GST_PLUGIN_PATH_1_0 = the build dir,
# private registry; env from tests/gst/meson.build): ferfacedetect is registered, finds the
# astronaut's face, and a missing, corrupt or non-regular (FIFO, /dev/zero) cascade stops the
# pipeline with a one-line error naming the file (non-zero exit, no crash, no hang). Skips (77)
# without gst-launch-1.0 or opencv-data.
set -uo pipefail
src="${FER_SOURCE_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v gst-launch-1.0 >/dev/null || { echo "SKIP: gst-launch-1.0 missing"; exit 77; }
[ -f /usr/share/opencv4/haarcascades/haarcascade_frontalface_alt.xml ] ||
  { echo "SKIP: opencv-data is not installed"; exit 77; }
source "$src/pipelines/fer-env.sh" || fail "pipelines/fer-env.sh cannot find the plugin"
face="$src/data/samples/astronaut.png"
[ -f "$face" ] || face=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
[ -f "$face" ] || { echo "SKIP: astronaut.png missing"; exit 77; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

gst-inspect-1.0 ferfacedetect >"$tmp/inspect" 2>&1 || fail "gst-inspect-1.0 ferfacedetect: $(tail -1 "$tmp/inspect")"
for p in cascade min-size max-size scale-factor min-neighbors detect-every; do
  grep -q "^  $p " "$tmp/inspect" || fail "property $p missing"
done
grep -q "haarcascade_frontalface_alt.xml" "$tmp/inspect" || fail "default cascade not found at run time"

GST_DEBUG=ferfacedetect:6 GST_DEBUG_NO_COLOR=1 gst-launch-1.0 -q filesrc location="$face" ! \
  pngdec ! videoconvert ! ferfacedetect method=cascade ! fakesink >/dev/null 2>"$tmp/log" ||
  fail "pipeline on astronaut.png failed: $(tail -3 "$tmp/log")"
grep -q " 1 faces" "$tmp/log" || fail "no face on astronaut.png: $(grep -m3 faces "$tmp/log")"

check_bad() { # CASCADE NEEDLE
  gst-launch-1.0 -q videotestsrc num-buffers=2 ! ferfacedetect method=cascade cascade="$1" ! fakesink \
    >"$tmp/out" 2>&1
  local rc=$?
  # gst-launch-1.0 exits with 255 on a pipeline error; 129..192 would be a signal (crash)
  [ $rc -ne 0 ] && { [ $rc -lt 128 ] || [ $rc -eq 255 ]; } ||
    fail "cascade=$1: exit code $rc (want a clean failure)"
  grep -q "Cannot load face cascade $1: .*$2" "$tmp/out" ||
    fail "cascade=$1: unclear error: $(grep -m1 ERROR "$tmp/out")"
  echo "ok  $(grep -m1 'Cannot load' "$tmp/out" | sed 's/.*Cannot/Cannot/')"
}
check_bad "$tmp/missing.xml" "cannot open"
printf '<opencv_storage><cascade><stageType>BOOST' >"$tmp/corrupt.xml"
check_bad "$tmp/corrupt.xml" "Document ended unexpectedly"
head -c 3000 /dev/urandom >"$tmp/random.xml"
check_bad "$tmp/random.xml" ""
# refused at once, never waited on or read forever (the meson timeout catches a hang)
mkfifo "$tmp/fifo.xml"
check_bad "$tmp/fifo.xml" "not a regular file (a FIFO)"
check_bad /dev/zero "not a regular file (a character device)"
echo "ok  plugin: ferfacedetect registered, face found, bad cascades refused"
