#!/usr/bin/env bash
# Meson test fuzz_make_corpus: make_corpus still writes every seed and reproducer with the
# library's current writer, and what it writes replays cleanly (the committed copies could
# otherwise drift from what the generator makes without anyone noticing).
#   check_make_corpus.sh MAKE_CORPUS REPLAY_CHECKPOINT REPLAY_PNG REPLAY_METRICS REPLAY_TFJS
set -euo pipefail
out=$(mktemp -d "${TMPDIR:-/tmp}/fer_make_corpus.XXXXXX")
trap 'rm -rf "$out"' EXIT
"$1" "$out" >/dev/null
n=$(ls "$out/checkpoint" | wc -l)
[ "$n" -ge 20 ] || { echo "make_corpus wrote $n checkpoints, expected at least 20"; exit 1; }
"$2" "$out/checkpoint"
"$3" "$out/png"
"$4" "$out/metrics"
"$5" "$out/tfjs"
