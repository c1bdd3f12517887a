# Sourced by the pipeline scripts: finds the built gstfer plugin and sets up GStreamer for it.
#   FER_BUILD_DIR  meson build dir holding gst-plugin/libgstfer.so (default: ./build under the
#                  project root, else an installed plugin is used)
#   FER_MODEL      expression model (.fer); default: ferclassify's default (installed
#                  pretrained model, else pretrained/fer_best.fer in the source tree)
#   FER_TTA        ferclassify's test-time augmentation: none (default), flip (2 passes per
#                  face) or tencrop (10 passes; for recorded clips)

fer_die() { echo "$(basename "$0"): $*" >&2; exit 1; }
# Renames temporary file $1 to $2 with the mode a file created there would get (mktemp makes its
# files 0600; the outputs are the user's, readable as the umask allows, like the C tools' outputs).
fer_publish() {
  chmod "$(printf '%o' $((0666 & ~0$(umask))))" "$1" && mv -f "$1" "$2"
}

fer_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FER_BUILD_DIR="${FER_BUILD_DIR:-$fer_root/build}"
fer_plugin="$FER_BUILD_DIR/gst-plugin/libgstfer.so"

command -v gst-launch-1.0 >/dev/null ||
  fer_die "gst-launch-1.0 not found (install gstreamer1.0-tools)"

if [ -f "$fer_plugin" ]; then
  export GST_PLUGIN_PATH_1_0="$FER_BUILD_DIR/gst-plugin${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}"
  # A sanitizer build of the plugin needs the ASan runtime loaded first into the
  # (uninstrumented) GStreamer tools; leaks of the tools themselves are not ours to report.
  fer_asan="$(ldd "$fer_plugin" 2>/dev/null | awk '/libasan/ { print $3; exit }')"
  if [ -n "$fer_asan" ]; then
    export LD_PRELOAD="$fer_asan${LD_PRELOAD:+:$LD_PRELOAD}"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
  fi
fi

gst-inspect-1.0 ferclassify >/dev/null 2>&1 ||
  fer_die "the fer GStreamer plugin was not found in $FER_BUILD_DIR/gst-plugin; build it first" \
    "(meson setup build && ninja -C build) or set FER_BUILD_DIR to your build dir"

fer_model_arg=()
if [ -n "${FER_MODEL:-}" ]; then
  [ -f "$FER_MODEL" ] || fer_die "$FER_MODEL: model file not found (FER_MODEL)"
  fer_model_arg=("model=$FER_MODEL")
fi
case "${FER_TTA:-none}" in
  none) ;;
  flip | tencrop) fer_model_arg+=("tta=$FER_TTA") ;;
  *) fer_die "FER_TTA=$FER_TTA: not one of none, flip, tencrop" ;;
esac
