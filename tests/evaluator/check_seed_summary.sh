#!/bin/sh
# The committed seed summary (docs/results/seed_summary.{md,csv,tex}) is what fer-report seeds
# computes from the committed run records (docs/results/records/*_seedNN), as pretrained/ship.py
# reports runs it: a record or summary edited alone fails here.
# usage: check_seed_summary.sh FER_REPORT SOURCE_ROOT
set -eu
report="$1"
results="$2/docs/results"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/fer_seed_summary.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C  # the glob's order is ship.py's sorted() order
set -- "$results"/records/*_seed[0-9]*
"$report" seeds "$@" --out "$tmp" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
status=0
for f in seed_summary.md seed_summary.csv seed_summary_table.tex; do
  if ! cmp -s "$tmp/$f" "$results/$f"; then
    echo "$results/$f: differs from fer-report seeds over $results/records (rerun pretrained/ship.py reports):"
    diff "$results/$f" "$tmp/$f" || true
    status=1
  fi
done
[ $status -ne 0 ] || echo "seed summary matches the $# run records"
exit $status
