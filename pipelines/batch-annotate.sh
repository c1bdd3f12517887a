#!/usr/bin/env bash
# Annotates every clip in a folder, N at a time: for each clip OUT_DIR/NAME.mp4 (annotated),
# OUT_DIR/NAME.jsonl and OUT_DIR/NAME.log, then OUT_DIR/summary.csv with one row per clip:
#   clip,status,frames,faces_seen,face_frames,<share of face time per expression...>
# faces_seen counts distinct face tracks; the shares are fractions of face-frames with each
# label. A clip that fails is reported at the end (status "failed", exit code 1); the others
# are still processed.
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

annotate_one() {
  local clip="$1" stem; stem="$(stem_of "$clip")"
  if FER_QUIET=1 "$here/annotate-clip.sh" "$clip" "$out_dir/$stem.mp4" \
      >"$out_dir/$stem.log" 2>&1; then
    touch "$status_dir/$stem.ok"
    echo "[done]   $(basename "$clip")"
  else
    echo "[FAILED] $(basename "$clip") (see $out_dir/$stem.log)"
  fi
}

echo "batch-annotate: ${#clips[@]} clip(s) from $in_dir, $jobs_max at a time -> $out_dir"
for clip in "${clips[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  annotate_one "$clip" &
done
wait

# Expression names in model order, from the first face found in any JSONL; FER-2013's names
# when no clip had a face.
classes=""
for clip in "${clips[@]}"; do
  j="$out_dir/$(stem_of "$clip").jsonl"
  [ -f "$status_dir/$(stem_of "$clip").ok" ] && [ -f "$j" ] || continue
  classes="$(grep -m1 -o '"probabilities":{[^}]*}' "$j" | sed 's/^"probabilities"://' |
    grep -o '"[^"]*":' | tr -d '":' | paste -sd, -)" || true
  [ -n "$classes" ] && break
done
classes="${classes:-angry,disgust,fear,happy,neutral,sad,surprise}"

summary="$out_dir/summary.csv"
summary_tmp="$(mktemp "$summary.XXXXXX.tmp")" || fer_die "$out_dir: cannot create a temporary file"
failed=()
{
  echo "clip,status,frames,faces_seen,face_frames,${classes},uncertain"
  for clip in "${clips[@]}"; do
    stem="$(stem_of "$clip")"
    name="$(basename "$clip")"
    name="\"${name//\"/\"\"}\""
    if [ ! -f "$status_dir/$stem.ok" ]; then
      failed+=("$clip")
      echo "$name,failed,,,,$(echo "$classes" | tr -c ',\n' ' ' | tr -d ' '),"
      continue
    fi
    awk -v classes="$classes,uncertain" -v name="$name" '
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
        printf "%s,ok,%d,%d,%d", name, frames, nt, face_frames
        k = split(classes, cls, ",")
        for (i = 1; i <= k; i++)
          printf ",%.4f", faces ? count[cls[i]] / faces : 0
        printf "\n"
      }' "$out_dir/$stem.jsonl"
  done
} > "$summary_tmp"
mv -f "$summary_tmp" "$summary"

ok=$(( ${#clips[@]} - ${#failed[@]} ))
echo "batch-annotate: $ok of ${#clips[@]} clip(s) annotated; summary: $summary"
if [ ${#failed[@]} -gt 0 ]; then
  echo "batch-annotate: ${#failed[@]} clip(s) failed:" >&2
  for f in "${failed[@]}"; do
    reason="$(grep -m1 -e '^annotate-clip.sh:' "$out_dir/$(stem_of "$f").log" || true)"
    echo "  $f: ${reason:-see $out_dir/$(stem_of "$f").log}" >&2
  done
  exit 1
fi
