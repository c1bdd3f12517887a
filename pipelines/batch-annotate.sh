#!/usr/bin/env bash
# Annotates every clip in a folder, N at a time: for each clip OUT_DIR/NAME.mp4 (annotated),
# OUT_DIR/NAME.jsonl and OUT_DIR/NAME.log, then OUT_DIR/summary.csv with one row per clip:
#   clip,status,frames,faces_seen,face_frames,<share of face time per expression...>,
#   uncertain,expected_frames,reason
# frames counts the frames annotated; faces_seen counts distinct face tracks; the shares are
# fractions of face-frames with each label. status is
#   ok       every frame the container holds was annotated
#   partial  the clip stopped early: fewer frames decoded than its container lists
#            (expected_frames; MP4/MOV/M4V/3GP files, read from the video track's sample table
#            with python3; tolerance: 1 frame or 1 %, whichever is larger); outputs are kept
#   failed   the pipeline failed (reason: its error) or no frame was decoded; no outputs are
#            left for it (an empty MP4 is not an annotation)
# expected_frames is empty where the container does not say (other formats, no python3).
# Every clip is processed; the final message lists each failed or partial clip with its reason,
# and the exit code is 1 when any clip is not ok.
#   Usage: pipelines/batch-annotate.sh IN_DIR OUT_DIR [-j N]
# Env: FER_BUILD_DIR, FER_MODEL (see pipelines/fer-env.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/fer-env.sh"

usage() { fer_die "usage: $0 IN_DIR OUT_DIR [-j N]"; }
jobs_max=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -j) [ $# -ge 2 ] || usage; jobs_max="$2"; shift 2 ;;
    -j*) jobs_max="${1#-j}"; shift ;;
    -h|--help) usage ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -eq 2 ] || usage
in_dir="${args[0]}"
out_dir="${args[1]}"
[[ "$jobs_max" =~ ^[1-9][0-9]*$ ]] || fer_die "-j $jobs_max: expected a positive number"
[ -d "$in_dir" ] || fer_die "$in_dir: no such folder"
mkdir -p "$out_dir" || fer_die "$out_dir: cannot create the output folder"

shopt -s nullglob nocaseglob
clips=()
for f in "$in_dir"/*.{mp4,m4v,mov,mkv,webm,avi,ogv,ogg,mpg,mpeg,ts,mts,flv,wmv,3gp,gif}; do
  [ -f "$f" ] && clips+=("$f")
done
shopt -u nocaseglob
[ ${#clips[@]} -gt 0 ] || fer_die "$in_dir: no video clips found"

# Output stem per clip; a stem shared by two clips keeps the extension to stay unique.
declare -A stem_count=()
for f in "${clips[@]}"; do
  b="$(basename "$f")"
  stem_count["${b%.*}"]=$(( ${stem_count["${b%.*}"]:-0} + 1 ))
done
stem_of() {
  local b; b="$(basename "$1")"
  if [ "${stem_count["${b%.*}"]}" -gt 1 ]; then echo "${b//./_}"; else echo "${b%.*}"; fi
}

status_dir="$(mktemp -d)"
trap 'rm -rf "$status_dir"' EXIT

# Frames in the first video track of an ISO media file (MP4, MOV, M4V, 3GP): the sample count of
# its stsz/stz2 box. Prints 0 when unknown: another container, no moov box (a cut file whose
# index was at the end does not decode at all), a fragmented file, no python3.
container_frames() {
  command -v python3 >/dev/null || { echo 0; return; }
  python3 - "$1" <<'PY' 2>/dev/null || echo 0
import struct, sys

def boxes(f, start, end):
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        head = f.read(8)
        if len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head)
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", f.read(8))[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size

def child(f, span, kind):
    for k, start, end in boxes(f, *span):
        if k == kind:
            return start, end
    return None

def video_frames(f):
    f.seek(0, 2)
    moov = child(f, (0, f.tell()), b"moov")
    if not moov or child(f, moov, b"mvex"):
        return 0
    for kind, start, end in boxes(f, *moov):
        mdia = child(f, (start, end), b"mdia") if kind == b"trak" else None
        hdlr = mdia and child(f, mdia, b"hdlr")
        if not hdlr:
            continue
        f.seek(hdlr[0] + 8)   # version+flags, pre_defined, then the handler type
        if f.read(4) != b"vide":
            continue
        minf = child(f, mdia, b"minf")
        stbl = minf and child(f, minf, b"stbl")
        sizes = stbl and (child(f, stbl, b"stsz") or child(f, stbl, b"stz2"))
        if not sizes:
            return 0
        f.seek(sizes[0] + 8)  # version+flags, sample size (stz2: reserved + field size)
        return struct.unpack(">I", f.read(4))[0]
    return 0

with open(sys.argv[1], "rb") as f:
    print(video_frames(f))
PY
}

# A message squeezed onto one line (for a CSV field and the final message).
one_line() { tr '\n\r' '  ' | sed 's/  */ /g; s/^ //; s/ $//'; }

# Annotates one clip and writes STATUS_DIR/STEM: status, frames, expected frames, reason.
annotate_one() {
  local clip="$1" stem name status reason="" frames="" expected tolerance
  stem="$(stem_of "$clip")"
  name="$(basename "$clip")"
  local log="$out_dir/$stem.log" mp4="$out_dir/$stem.mp4" jsonl="$out_dir/$stem.jsonl"
  expected="$(container_frames "$clip")"
  [[ "$expected" =~ ^[0-9]+$ ]] || expected=0
  if FER_QUIET=1 "$here/annotate-clip.sh" "$clip" "$mp4" >"$log" 2>&1; then
    frames=0
    [ -f "$jsonl" ] && frames="$(wc -l < "$jsonl" | tr -d ' ')"
    tolerance=$(( expected / 100 > 1 ? expected / 100 : 1 ))
    if [ "$frames" -eq 0 ]; then
      status=failed
      reason="no video frame decoded (truncated or damaged file, or no video stream)"
      [ "$expected" -gt 0 ] && reason="$reason; the container lists $expected frames"
    elif [ "$expected" -gt 0 ] && [ "$frames" -lt $(( expected - tolerance )) ]; then
      status=partial
      reason="decoding stopped after $frames of the $expected frames the container lists (truncated or damaged file)"
    else
      status=ok
    fi
  else
    status=failed
    # annotate-clip.sh's own message carries the pipeline's first ERROR line
    reason="$(grep -m1 -e '^annotate-clip.sh:' "$log" || grep -m1 -e '^ERROR' "$log" || true)"
    # "failed on IN: ERROR: from element /GstPipeline:.../GstQTDemux:qtdemux0: TEXT" -> "error: TEXT"
    reason="$(sed -e 's/^annotate-clip\.sh: //' -e 's/^failed on .*: ERROR: from element [^ ]*: /error: /' \
      -e 's/^ERROR: from element [^ ]*: /error: /' <<<"$reason")"
    reason="${reason:-annotate-clip.sh failed (see $log)}"
  fi
  # a failed clip leaves no outputs, not even those of an earlier run
  [ "$status" = failed ] && rm -f "$mp4" "$jsonl"
  [ "$expected" -gt 0 ] || expected=""
  printf '%s\n%s\n%s\n%s\n' "$status" "$frames" "$expected" "$(one_line <<<"$reason")" \
    > "$status_dir/$stem"
  case "$status" in
    ok) echo "[done]    $name" ;;
    partial) echo "[PARTIAL] $name: $reason (see $log)" ;;
    *) echo "[FAILED]  $name: $reason (see $log)" ;;
  esac
}

echo "batch-annotate: ${#clips[@]} clip(s) from $in_dir, $jobs_max at a time -> $out_dir"
for clip in "${clips[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  annotate_one "$clip" &
done
wait

# Expression names in model order, from the first face found in any JSONL; FER-2013's names
# when no clip had a face.
# A clip whose job left no status (killed) counts as failed.
for clip in "${clips[@]}"; do
  f="$status_dir/$(stem_of "$clip")"
  [ -s "$f" ] || printf 'failed\n\n\nthe annotation job ended without a result\n' > "$f"
done
clip_status() { sed -n 1p "$status_dir/$(stem_of "$1")"; }
classes=""
for clip in "${clips[@]}"; do
  j="$out_dir/$(stem_of "$clip").jsonl"
  [ "$(clip_status "$clip")" != failed ] && [ -f "$j" ] || continue
  classes="$(grep -m1 -o '"probabilities":{[^}]*}' "$j" | sed 's/^"probabilities"://' |
    grep -o '"[^"]*":' | tr -d '":' | paste -sd, -)" || true
  [ -n "$classes" ] && break
done
classes="${classes:-angry,disgust,fear,happy,neutral,sad,surprise}"

csv_quote() { local v="$1"; printf '"%s"' "${v//\"/\"\"}"; }

summary="$out_dir/summary.csv"
summary_tmp="$(mktemp "$summary.XXXXXX.tmp")" || fer_die "$out_dir: cannot create a temporary file"
n_ok=0
not_ok=()
{
  echo "clip,status,frames,faces_seen,face_frames,${classes},uncertain,expected_frames,reason"
  for clip in "${clips[@]}"; do
    stem="$(stem_of "$clip")"
    { read -r status; read -r frames; read -r expected; read -r reason; } < "$status_dir/$stem"
    name="$(csv_quote "$(basename "$clip")")"
    tail_fields="$expected,"
    [ -z "$reason" ] || tail_fields="$tail_fields$(csv_quote "$reason")"
    case "$status" in
      ok) n_ok=$(( n_ok + 1 )) ;;
      *) not_ok+=("$clip") ;;
    esac
    if [ "$status" = failed ]; then
      echo "$name,failed,$frames,,,$(echo "$classes" | tr -c ',\n' ' ' | tr -d ' '),,$tail_fields"
      continue
    fi
    awk -v classes="$classes,uncertain" -v name="$name" -v status="$status" \
        -v tail_fields="$tail_fields" '
      {
        frames++; line = $0; n = 0
        while (match(line, /"track_id":-?[0-9]+/)) {
          tracks[substr(line, RSTART + 11, RLENGTH - 11)] = 1
          line = substr(line, RSTART + RLENGTH)
          if (match(line, /"label":"[^"]*"/)) {
            count[substr(line, RSTART + 9, RLENGTH - 10)]++
            line = substr(line, RSTART + RLENGTH)
          }
          n++
        }
        faces += n
        if (n > 0) face_frames++
      }
      END {
        nt = 0; for (t in tracks) nt++
        printf "%s,%s,%d,%d,%d", name, status, frames, nt, face_frames
        k = split(classes, cls, ",")
        for (i = 1; i <= k; i++)
          printf ",%.4f", faces ? count[cls[i]] / faces : 0
        printf ",%s\n", tail_fields
      }' "$out_dir/$stem.jsonl"
  done
} > "$summary_tmp"
fer_publish "$summary_tmp" "$summary"

n_partial=0
for clip in ${not_ok[@]+"${not_ok[@]}"}; do
  [ "$(clip_status "$clip")" = partial ] && n_partial=$(( n_partial + 1 ))
done
n_failed=$(( ${#not_ok[@]} - n_partial ))
echo "batch-annotate: $n_ok of ${#clips[@]} clip(s) annotated in full, $n_partial partial," \
  "$n_failed failed; summary: $summary"
if [ ${#not_ok[@]} -gt 0 ]; then
  echo "batch-annotate: clips not annotated in full:" >&2
  for clip in "${not_ok[@]}"; do
    stem="$(stem_of "$clip")"
    { read -r status; read -r _; read -r _; read -r reason; } < "$status_dir/$stem"
    echo "  $clip: $status: $reason (log: $out_dir/$stem.log)" >&2
  done
  exit 1
fi
