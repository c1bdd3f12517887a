#!/usr/bin/env bash
# Fetches the pretrained CNN face detector (BlazeFace, TF.js graph model) from the pinned npm
# package @vladmandic/human (MIT) and converts it into a .fer graph for libfermodel.
#   Usage: data/models/fetch.sh [--tiny] [BUILD_DIR]       (default build dir: build)
#   --tiny also fetches face-api's TinyFaceDetector (npm @vladmandic/face-api@1.7.15, MIT) into
#   data/models/tinyfacedetector/ and converts it into data/models/tinyfacedetector.fer (the
#   measured alternative to BlazeFace: docs/results/detector_choice.md)
# Writes (gitignored, never committed):
#   data/models/blazeface/{blazeface.json,blazeface.bin,LICENSE}   the package's files, checked
#                                                                  against the SHA-256 sums below
#   data/models/blazeface.fer   converted by BUILD_DIR/model/tools/fer-convert-tfjs (skipped with
#                               a note when that tool is not built yet)
# Needs npm (npm pack only downloads the package tarball; nothing is installed or run).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tiny=0
if [ "${1:-}" = --tiny ]; then tiny=1; shift; fi
build="${1:-$root/build}"
pkg='@vladmandic/human@3.3.6'
out="$here/blazeface"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "fetch.sh: npm not found (apt-get install npm)" >&2; exit 1; }
tgz="$(cd "$work" && npm pack --silent "$pkg" | tail -n 1)"
tar -xzf "$work/$tgz" -C "$work" package/models/blazeface.json package/models/blazeface.bin \
  package/LICENSE
cp "$work/package/models/blazeface.json" "$work/package/models/blazeface.bin" \
  "$work/package/LICENSE" "$out/"
(cd "$out" && sha256sum -c --quiet <<'SUMS'
cd7bbfc078270572beb39f9e5ae67aadbd50b5e67cff37e6d4f6b3ea39312e5f  blazeface.json
dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72  blazeface.bin
SUMS
)
echo "fetch.sh: $pkg models/blazeface.{json,bin} -> $out"

conv="$build/model/tools/fer-convert-tfjs"
if [ -x "$conv" ]; then
  "$conv" "$out/blazeface.json" "$here/blazeface.fer"
else
  echo "fetch.sh: $conv not built; run 'ninja -C $build' and then:" >&2
  echo "  $conv $out/blazeface.json $here/blazeface.fer" >&2
fi

if [ "$tiny" = 1 ]; then
  tout="$here/tinyfacedetector"
  mkdir -p "$tout"
  ttgz="$(cd "$work" && npm pack --silent @vladmandic/face-api@1.7.15 | tail -n 1)"
  tar -xzf "$work/$ttgz" -C "$work" package/model/tiny_face_detector_model-weights_manifest.json \
    package/model/tiny_face_detector_model.bin package/LICENSE
  cp "$work/package/model/tiny_face_detector_model-weights_manifest.json" \
    "$work/package/model/tiny_face_detector_model.bin" "$tout/"
  cp "$work/package/LICENSE" "$tout/LICENSE"
  (cd "$tout" && sha256sum -c --quiet <<'SUMS'
5d1af4849ac48d5b985f4a9b16010c512353ddd6fcc63d50fd0bc9e9e64296e5  tiny_face_detector_model-weights_manifest.json
b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871  tiny_face_detector_model.bin
SUMS
  )
  echo "fetch.sh: @vladmandic/face-api@1.7.15 tiny_face_detector_model -> $tout"
  if [ -x "$conv" ]; then
    "$conv" "$tout/tiny_face_detector_model-weights_manifest.json" "$here/tinyfacedetector.fer"
  else
    echo "fetch.sh: then: $conv $tout/tiny_face_detector_model-weights_manifest.json" \
      "$here/tinyfacedetector.fer" >&2
  fi
fi
