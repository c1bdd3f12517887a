#!/bin/sh
# Depthwise, pointwise and strided convolutions per FLOP: ours (cpu backend) and PyTorch (eager
# NCHW and channels_last) in the same invocation, alternating, then the ratio of ours to
# PyTorch's best for each shape, forward and backward (issue 19: "no slower per FLOP than
# PyTorch's best").
#   bench/conv_kinds.sh [--batch B] [--threads T] [--reps R] [--rounds N] [--build DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
batch=64 threads=2 reps=5 rounds=3 build="$root/build-bench"
while [ $# -gt 0 ]; do
    case "$1" in
    --batch) batch=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "conv_kinds.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release >/dev/null ||
        { echo "conv_kinds.sh: meson setup failed in $build" >&2; exit 1; }
fi
ninja -C "$build" bench/bench_conv_kinds >/dev/null ||
    { echo "conv_kinds.sh: building bench_conv_kinds failed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
echo "# batch $batch, $threads threads, best of $reps per round, $rounds rounds (best over rounds)"
echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); flags:" \
     "$(grep -o 'avx2\|fma\|avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
r=1
while [ "$r" -le "$rounds" ]; do
    "$build/bench/bench_conv_kinds" "$batch" "$threads" "$reps" >>"$tmp/ours"
    /usr/bin/python3 "$here/torch_conv_kinds.py" "$batch" "$threads" "$reps" >>"$tmp/torch" ||
        { echo "conv_kinds.sh: the PyTorch side failed" >&2; exit 1; }
    r=$((r + 1))
done
awk '
FNR == NR { if ($3 > of[$1]) of[$1] = $3; if ($5 > ob[$1]) ob[$1] = $5; order[++n] = $1; next }
{ k = $1; if ($4 > tf[k]) { tf[k] = $4; tfv[k] = $2 } if ($6 > tb[k]) { tb[k] = $6; tbv[k] = $2 } }
END {
    printf "%-22s %9s %9s %-6s %6s | %9s %9s %-6s %6s\n", "shape", "ours", "torch", "best", "ratio",
           "ours bwd", "torch", "best", "ratio"
    for (i = 1; i <= n; i++) {
        k = order[i]; if (seen[k]++) continue
        printf "%-22s %9.1f %9.1f %-6s %6.2f | %9.1f %9.1f %-6s %6.2f\n", k, of[k], tf[k], tfv[k],
               of[k] / tf[k], ob[k], tb[k], tbv[k], ob[k] / tb[k]
    }
    print "# GFLOP/s, best over rounds; ratio = ours / PyTorch best variant (>= 1: not slower)"
}' "$tmp/ours" "$tmp/torch"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
