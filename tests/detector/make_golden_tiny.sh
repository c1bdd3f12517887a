#!/usr/bin/env bash
# Regenerates tests/detector/golden/tinyface_golden.json (see make_golden_tiny.mjs).
#   Usage: tests/detector/make_golden_tiny.sh      (after data/models/fetch.sh --tiny)
# Needs node + npm (pinned packages go into a scratch folder, FER_NODE_DIR to reuse one; nothing
# is installed into the repository). face-api's ES module without bundled TF.js
# (dist/face-api.esm-nobundle.js) imports "@tensorflow/tfjs/dist/index.js" and the two backend
# packages the same way, which Node's ES module resolver cannot load from a package folder; only
# those import names are rewritten to the packages' own names, the code is run as shipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
models="$root/data/models/tinyfacedetector"
[ -f "$models/tiny_face_detector_model-weights_manifest.json" ] ||
  { echo "make_golden_tiny.sh: run data/models/fetch.sh --tiny first" >&2; exit 1; }
work="${FER_NODE_DIR:-$(mktemp -d)}"
(cd "$work" && npm install --silent --no-audit --no-fund --ignore-scripts --no-save \
  @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 pngjs@7.0.0)
tgz="$(cd "$work" && npm pack --silent @vladmandic/face-api@1.7.15 | tail -n 1)"
tar -xzf "$work/$tgz" -C "$work" package/dist/face-api.esm-nobundle.js
sed -e 's#"@tensorflow/tfjs/dist/index.js"#"@tensorflow/tfjs"#g' \
    -e 's#"@tensorflow/tfjs-backend-wasm/dist/index.js"#"@tensorflow/tfjs-backend-wasm"#g' \
    -e 's#"@tensorflow/tfjs-backend-webgl/dist/index.js"#"@tensorflow/tfjs-backend-webgl"#g' \
    "$work/package/dist/face-api.esm-nobundle.js" > "$work/fa.mjs"
cp "$here/make_golden_tiny.mjs" "$work/"   # ES modules resolve packages beside the script
node "$work/make_golden_tiny.mjs" "$root" "$models"
