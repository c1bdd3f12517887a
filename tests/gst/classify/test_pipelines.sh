#!/usr/bin/env bash
# pipelines/*.sh on generated clips with a test model: annotate-clip.sh gives a decodable MP4
# and one JSON line per frame; batch-annotate.sh processes a folder in parallel, continues past
# a broken clip, reports it and writes summary.csv; clear errors for bad arguments and for a
# missing camera. Skips (77) without gst-launch-1.0.
# Usage: test_pipelines.sh MAKE_TEST_MODEL   (env from tests/gst/meson.build)
set -uo pipefail
make_model="$1"
src="${FER_SOURCE_DIR:?}"
pipes="$src/pipelines"

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v gst-launch-1.0 >/dev/null || { echo "SKIP: gst-launch-1.0 missing"; exit 77; }
source "$pipes/fer-env.sh" 2>/dev/null || fail "pipelines/fer-env.sh cannot find the plugin"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export FER_MODEL="$tmp/tiny.fer"
"$make_model" "$FER_MODEL" >/dev/null || fail "cannot make the test model"

# Clips: a still face (astronaut) for 20 frames, a 30-frame test pattern, a broken file.
mkdir -p "$tmp/in" "$tmp/out"
face=""
for p in "$src/data/samples/astronaut.png" /usr/lib/python3/dist-packages/skimage/data/astronaut.png; do
  [ -f "$p" ] && { face="$p"; break; }
done
if [ -n "$face" ]; then
  gst-launch-1.0 -q filesrc location="$face" ! pngdec ! imagefreeze num-buffers=20 ! \
    videoconvert ! videoscale ! video/x-raw,width=256,height=256,framerate=25/1 ! \
    x264enc ! mp4mux ! filesink location="$tmp/in/face.mp4" || fail "cannot make face.mp4"
  face_frames=20
else
  gst-launch-1.0 -q videotestsrc num-buffers=20 pattern=ball ! \
    video/x-raw,width=256,height=256,framerate=25/1 ! x264enc ! mp4mux ! \
    filesink location="$tmp/in/face.mp4" || fail "cannot make face.mp4"
  face_frames=20
fi
gst-launch-1.0 -q videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240,framerate=25/1 ! \
  x264enc ! mp4mux ! filesink location="$tmp/in/pattern.mp4" || fail "cannot make pattern.mp4"
head -c 20000 /dev/urandom > "$tmp/in/broken.mp4"

# annotate-clip.sh
"$pipes/annotate-clip.sh" "$tmp/in/face.mp4" "$tmp/out/face.mp4" > "$tmp/annotate.log" 2>&1 ||
  { cat "$tmp/annotate.log"; fail "annotate-clip.sh failed"; }
[ -s "$tmp/out/face.mp4" ] || fail "no annotated MP4"
# the outputs get the mode of a new file under the umask (the temp file was 0600)
want_mode=$(printf '%o' $((0666 & ~0$(umask))))
mode=$(stat -c '%a' "$tmp/out/face.mp4")
[ "$mode" = "$want_mode" ] || fail "face.mp4 has mode $mode, want $want_mode"
leftover=$(find "$tmp/out" -name 'face.part.mp4' -o -name 'face.jsonl*.tmp')
[ -z "$leftover" ] || fail "temp files left: $leftover"
lines=$(wc -l < "$tmp/out/face.jsonl")
[ "$lines" -eq "$face_frames" ] || fail "face.jsonl has $lines lines for $face_frames frames"
bad=$(grep -vc '^{"frame":[0-9]*,"pts_ns":[0-9]*,"faces":\[.*\]}$' "$tmp/out/face.jsonl")
[ "$bad" -eq 0 ] || fail "$bad malformed JSON lines"
grep -q 'progressreport\|%' "$tmp/annotate.log" || fail "no progress indication"
decoded=$(gst-launch-1.0 filesrc location="$tmp/out/face.mp4" ! decodebin ! \
  fakesink silent=false -v 2>/dev/null | grep -c 'chain') || true
[ "$decoded" -ge "$face_frames" ] || fail "annotated MP4 decodes to $decoded frames"
echo "annotate-clip: ok ($lines frames, $(grep -o '"track_id"' "$tmp/out/face.jsonl" | wc -l) faces)"

# argument errors are one clear line and a failure
out=$("$pipes/annotate-clip.sh" "$tmp/in/none.mp4" "$tmp/out/x.mp4" 2>&1) && fail "missing input accepted"
grep -q "none.mp4: no such file" <<<"$out" || fail "unclear error: $out"
out=$("$pipes/annotate-clip.sh" "$tmp/in/face.mp4" "$tmp/out/x.avi" 2>&1) && fail "bad output name accepted"
grep -q "must end in .mp4" <<<"$out" || fail "unclear error: $out"
out=$("$pipes/annotate-clip.sh" "$tmp/in/broken.mp4" "$tmp/out/broken.mp4" 2>&1) && fail "broken clip accepted"
[ ! -e "$tmp/out/broken.mp4" ] && [ ! -e "$tmp/out/broken.jsonl" ] || fail "outputs left for a broken clip"
out=$(FER_MODEL="$tmp/none.fer" "$pipes/annotate-clip.sh" "$tmp/in/face.mp4" "$tmp/out/y.mp4" 2>&1) &&
  fail "missing model accepted"
grep -q "none.fer" <<<"$out" || fail "missing model error does not name it: $out"

# FER_TTA: flip runs (one JSON line per frame still); a bad value is one clear line
FER_TTA=flip "$pipes/annotate-clip.sh" "$tmp/in/face.mp4" "$tmp/out/flip.mp4" > "$tmp/flip.log" 2>&1 ||
  { cat "$tmp/flip.log"; fail "annotate-clip.sh with FER_TTA=flip failed"; }
[ "$(wc -l < "$tmp/out/flip.jsonl")" -eq "$face_frames" ] || fail "flip.jsonl line count"
# the mirror-averaged probabilities are not the one-pass ones
cmp -s "$tmp/out/face.jsonl" "$tmp/out/flip.jsonl" && fail "FER_TTA=flip changed no result"
out=$(FER_TTA=sideways "$pipes/annotate-clip.sh" "$tmp/in/face.mp4" "$tmp/out/z.mp4" 2>&1) &&
  fail "FER_TTA=sideways accepted"
grep -q "FER_TTA=sideways: not one of none, flip, tencrop" <<<"$out" || fail "unclear FER_TTA error: $out"

# webcam.sh without a camera
out=$("$pipes/webcam.sh" /dev/no-such-camera 2>&1) && fail "webcam.sh without camera succeeded"
grep -qi "camera" <<<"$out" || fail "unclear webcam error: $out"

# batch-annotate.sh: 2 good clips + 1 broken, 2 at a time
"$pipes/batch-annotate.sh" "$tmp/in" "$tmp/batch" -j 2 > "$tmp/batch.log" 2>&1
status=$?
cat "$tmp/batch.log"
[ "$status" -eq 1 ] || fail "batch-annotate.sh exit $status with a broken clip (expected 1)"
grep -q "broken.mp4" "$tmp/batch.log" || fail "broken clip not reported"
for s in face pattern; do
  [ -s "$tmp/batch/$s.mp4" ] && [ -s "$tmp/batch/$s.jsonl" ] || fail "batch outputs for $s missing"
done
summary="$tmp/batch/summary.csv"
[ -f "$summary" ] || fail "no summary.csv"
[ "$(stat -c '%a' "$summary")" = "$want_mode" ] || fail "summary.csv has mode $(stat -c '%a' "$summary")"
cat "$summary"
[ "$(wc -l < "$summary")" -eq 4 ] || fail "summary.csv should have a header and 3 rows"
head -1 "$summary" | grep -q '^clip,status,frames,faces_seen,face_frames,angry,disgust,fear,happy,neutral,sad,surprise,uncertain,expected_frames,reason$' ||
  fail "summary header"
grep -q '^"pattern.mp4",ok,30,' "$summary" || fail "pattern row"
grep -q "^\"face.mp4\",ok,$face_frames," "$summary" || fail "face row"
grep -q '^"broken.mp4",failed,' "$summary" || fail "broken row"
# the reason (last, quoted) may hold commas: count the fields before it
cols=$(sed 's/,"[^"]*"$/,/' "$summary" | awk -F, '{ print NF }' | sort -u)
[ "$cols" = 15 ] || fail "rows have $cols columns"
echo "pipelines: ok"
