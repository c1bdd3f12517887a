#!/usr/bin/env bash
# Regenerates the detector's golden fixtures in tests/detector/golden/ (see make_golden.mjs).
#   Usage: tests/detector/make_golden.sh      (after data/models/fetch.sh)
# Needs node + npm (pinned packages go into a scratch folder, FER_NODE_DIR to reuse one; nothing
# is installed into the repository) and gst-launch-1.0 with the base/good plugins for the clip's
# frame 200.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
[ -f "$root/data/models/blazeface/blazeface.json" ] ||
  { echo "make_golden.sh: run data/models/fetch.sh first" >&2; exit 1; }
work="${FER_NODE_DIR:-$(mktemp -d)}"
mkdir -p "$work/frames"
(cd "$work" && npm install --silent --no-audit --no-fund --ignore-scripts --no-save \
  @tensorflow/tfjs@4.22.0 jpeg-js@0.4.4 pngjs@7.0.0)
[ -f "$work/frames/f00200.png" ] ||
  gst-launch-1.0 -q filesrc location="$root/data/samples/cap13_edit2.mp4" ! decodebin ! \
    videoconvert ! video/x-raw,format=RGB ! pngenc ! \
    multifilesink location="$work/frames/f%05d.png"
cp "$here/make_golden.mjs" "$work/"   # ES modules resolve packages beside the script
node "$work/make_golden.mjs" "$root" "$work/frames"
