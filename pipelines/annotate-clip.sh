#!/usr/bin/env bash
# Annotates a video: faces, expression labels and confidences drawn into an H.264 MP4, plus one
# JSON line per frame (OUT.jsonl next to OUT.mp4).
#   Usage: pipelines/annotate-clip.sh IN OUT.mp4
#          pipelines/annotate-clip.sh    (the bundled sample: data/samples/cap13_edit2.mp4 ->
#                                         runs/annotate/cap13_edit2.mp4 + .jsonl)
# IN: any file decodebin reads. Env: FER_BUILD_DIR, FER_MODEL (see pipelines/fer-env.sh),
# FER_QUIET=1 hides the progress lines.
set -euo pipefail
source "$(dirname "$0")/fer-env.sh"

if [ $# -eq 0 ]; then
  set -- "$fer_root/data/samples/cap13_edit2.mp4" "$fer_root/runs/annotate/cap13_edit2.mp4"
  mkdir -p "$fer_root/runs/annotate"
fi
[ $# -eq 2 ] || fer_die "usage: $0 IN OUT.mp4 (or no arguments for the bundled sample clip)"
in="$1"
out="$2"
[ -f "$in" ] || fer_die "$in: no such file"
[ -r "$in" ] || fer_die "$in: not readable"
case "$out" in
  *.mp4) ;;
  *) fer_die "$out: the output name must end in .mp4" ;;
esac
out_dir="$(dirname "$out")"
[ -d "$out_dir" ] || fer_die "$out_dir: output folder does not exist"
[ -w "$out_dir" ] || fer_die "$out_dir: output folder is not writable"

jsonl="${out%.mp4}.jsonl"
# mktemp creates the file itself (O_EXCL): a file or symlink planted beside the output is never
# followed; filesink then writes the file we own.
tmp_mp4="$(mktemp "${out%.mp4}.XXXXXX.part.mp4")" || fer_die "$out_dir: cannot create a temporary file"
log="$(mktemp)"
trap 'rm -f "$tmp_mp4" "$log"' EXIT

progress=(progressreport update-freq=1 silent=false !)
[ "${FER_QUIET:-0}" = 1 ] && progress=()

# ferclassify writes a fresh JSONL.XXXXXX.tmp and renames it at EOS (and removes it on error); the
# MP4 is renamed here on success.
# The video/x-raw filter picks decodebin's video pad (an audio track stays unlinked).
set +e
gst-launch-1.0 -q -e \
  filesrc location="$in" ! decodebin ! video/x-raw ! queue ! "${progress[@]}" \
  videoconvert ! ferfacedetect ! \
  ferclassify "${fer_model_arg[@]}" results-location="$jsonl" ! \
  feroverlay ! videoconvert ! video/x-raw,format=I420 ! \
  x264enc speed-preset=faster key-int-max=250 ! h264parse ! mp4mux ! \
  filesink location="$tmp_mp4" 2>&1 | tee "$log" >&2
status=${PIPESTATUS[0]}
set -e

if [ "$status" -ne 0 ] || grep -q '^ERROR' "$log"; then
  msg="$(grep -m1 '^ERROR' "$log" || true)"
  rm -f "$jsonl"
  fer_die "failed on $in${msg:+: $msg}"
fi
[ -s "$tmp_mp4" ] || fer_die "failed on $in: no video was written (no video stream?)"
fer_publish "$tmp_mp4" "$out"
frames="$(wc -l < "$jsonl" | tr -d ' ')"
echo "annotate-clip: $in -> $out ($frames frames), $jsonl"
