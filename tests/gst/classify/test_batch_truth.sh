#!/usr/bin/env bash
# batch-annotate.sh tells the truth about bad clips (issue 22): in a folder with a good clip, an
# MP4 cut right after its index (decodes to 0 frames), one cut in the middle of its media data
# (decodes part of its frames, then EOS without an error) and a text file named .mkv, the
# summary says ok / failed / partial / failed with a reason, no empty MP4 is left for the
# 0-frame clip, and the exit code is 1. A folder of good clips alone exits 0.
# Clips are generated here (videotestsrc + x264enc + mp4mux faststart, so the index comes
# first); skips (77) without gst-launch-1.0, x264enc, mp4mux or python3.
# Usage: test_batch_truth.sh MAKE_TEST_MODEL   (env from tests/gst/meson.build)
set -uo pipefail
make_model="$1"
src="${FER_SOURCE_DIR:?}"
pipes="$src/pipelines"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
command -v gst-launch-1.0 >/dev/null || skip "gst-launch-1.0 missing"
command -v python3 >/dev/null || skip "python3 missing (batch-annotate.sh reads MP4 frame counts with it)"
# fer-env.sh first: it preloads the ASan runtime for a sanitizer build of the plugin, and the
# first registry scan (gst-inspect below) must already have it
source "$pipes/fer-env.sh" || fail "pipelines/fer-env.sh cannot find the plugin"
for e in x264enc mp4mux; do
  gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer element $e missing"
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export FER_MODEL="$tmp/tiny.fer"
"$make_model" "$FER_MODEL" >/dev/null || fail "cannot make the test model"

frames=60
mkdir -p "$tmp/in" "$tmp/good"
gst-launch-1.0 -q videotestsrc num-buffers=$frames pattern=ball ! \
  video/x-raw,width=160,height=120,framerate=25/1 ! x264enc key-int-max=10 ! \
  mp4mux faststart=true ! filesink location="$tmp/in/good.mp4" || fail "cannot make good.mp4"

# Offsets of the media data: the mdat payload starts 8 bytes after its box type's offset - 4.
mdat=$(python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
i = d.find(b"mdat")
print(i - 4 if i >= 4 else -1, len(d))' "$tmp/in/good.mp4") || fail "cannot read good.mp4"
read -r mdat_at size <<<"$mdat"
[ "$mdat_at" -gt 0 ] || fail "good.mp4 has no mdat box"
head -c $(( mdat_at + 8 + 64 )) "$tmp/in/good.mp4" > "$tmp/in/empty.mp4"   # index + 64 bytes
head -c $(( mdat_at + (size - mdat_at) / 2 )) "$tmp/in/good.mp4" > "$tmp/in/half.mp4"
printf 'this is not a video\n' > "$tmp/in/notes.mkv"
cp "$tmp/in/good.mp4" "$tmp/good/"

"$pipes/batch-annotate.sh" "$tmp/in" "$tmp/out" -j 2 > "$tmp/batch.log" 2>&1
status=$?
cat "$tmp/batch.log"
summary="$tmp/out/summary.csv"
[ -f "$summary" ] || fail "no summary.csv"
cat "$summary"
[ "$status" -eq 1 ] || fail "exit $status with failed and partial clips (expected 1)"

# One row per clip: the fields before the quoted reason, and the reason.
row() { grep "^\"$1\"," "$summary" || fail "no row for $1"; }
fields() { row "$1" | sed 's/,"[^"]*"$/,/'; }
reason() { row "$1" | sed -n 's/.*,"\([^"]*\)"$/\1/p'; }
for c in good.mp4 empty.mp4 half.mp4 notes.mkv; do
  n=$(fields "$c" | awk -F, '{ print NF }')
  [ "$n" -eq 15 ] || fail "$c: $n fields"
done

fields good.mp4 | grep -q "^\"good.mp4\",ok,$frames,.*,$frames,$" || fail "good row: $(row good.mp4)"
[ -z "$(reason good.mp4)" ] || fail "good clip has a reason"
[ -s "$tmp/out/good.mp4" ] || fail "good clip not annotated"

fields empty.mp4 | grep -q "^\"empty.mp4\",failed,0,.*,$frames,$" || fail "empty row: $(row empty.mp4)"
reason empty.mp4 | grep -q "no video frame decoded" || fail "empty reason: $(reason empty.mp4)"
[ ! -e "$tmp/out/empty.mp4" ] && [ ! -e "$tmp/out/empty.jsonl" ] ||
  fail "outputs left for a clip that decoded to 0 frames"

half_frames=$(fields half.mp4 | cut -d, -f3)
fields half.mp4 | grep -q "^\"half.mp4\",partial,[0-9]*,.*,$frames,$" || fail "half row: $(row half.mp4)"
[ "$half_frames" -gt 0 ] && [ "$half_frames" -lt $(( frames - 1 )) ] ||
  fail "half.mp4: $half_frames frames for a clip cut in the middle"
reason half.mp4 | grep -q "after $half_frames of the $frames frames" ||
  fail "half reason: $(reason half.mp4)"
[ -s "$tmp/out/half.mp4" ] || fail "partial clip's annotated MP4 missing"

fields notes.mkv | grep -q '^"notes.mkv",failed,,' || fail "notes row: $(row notes.mkv)"
reason notes.mkv | grep -qi "error" || fail "notes reason: $(reason notes.mkv)"

grep -q "1 of 4 clip(s) annotated in full, 1 partial, 2 failed" "$tmp/batch.log" ||
  fail "final message does not count the clips"
for c in empty.mp4 half.mp4 notes.mkv; do
  grep -q "$c: \(failed\|partial\): ..*" "$tmp/batch.log" || fail "final message misses $c"
done

"$pipes/batch-annotate.sh" "$tmp/good" "$tmp/out-good" > "$tmp/good.log" 2>&1 ||
  { cat "$tmp/good.log"; fail "a folder of good clips exits non-zero"; }
grep -q "1 of 1 clip(s) annotated in full, 0 partial, 0 failed" "$tmp/good.log" ||
  fail "good folder message: $(cat "$tmp/good.log")"
echo "batch-annotate truth: ok"
