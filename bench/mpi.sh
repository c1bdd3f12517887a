#!/bin/bash
# Data-parallel fer-train on this machine (issue 23): training throughput of
#   one:    1 process, 1 thread
#   ranks2: mpirun -np 2, 1 thread each (the same global batch, --sync_bn auto)
#   thr2:   1 process, 2 threads
# alternating, N rounds; prints the medians, the ratios, the bytes all-reduced per step and the
# share of rank 0's step time spent in MPI (waits for the other rank included).
#
#   bench/mpi.sh [--rounds N] [--images N] [--batch B] [--arch NAME] [--build DIR] [--data ROOT]
#
# img/s = training images of the timed epoch / its batch time (data + model, validation left
# out), from fer-train's epoch line; 2 epochs per run, the second timed (the first warms up).
# Data: --data ROOT (a FER-2013 folder or CSV), else a generated CSV of --images training images
# (default 2048). Builds fer-train with -Dmpi=enabled in DIR (default build-mpi-bench).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
rounds=3 images=2048 batch=64 arch=simplecnn build="$root/build-mpi-bench" data=
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --images) images=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --arch) arch=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --data) data=$2; shift 2 ;;
        *) echo "usage: bench/mpi.sh [--rounds N] [--images N] [--batch B] [--arch NAME] [--build DIR] [--data ROOT]" >&2; exit 2 ;;
    esac
done
command -v mpirun >/dev/null || { echo "bench/mpi.sh: no mpirun (Debian: openmpi-bin)" >&2; exit 1; }
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dmpi=enabled -Dcuda=disabled -Dgst=disabled >/dev/null
fi
ninja -C "$build" trainer/fer-train >/dev/null
fer_train="$build/trainer/fer-train"

work=$(mktemp -d "${TMPDIR:-/tmp}/fer-mpi-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -z "$data" ]; then
    # 7 classes told apart by brightness; images/7 training rows each, 14 val, 14 test
    awk -v n="$images" 'BEGIN {
        srand(11); print "emotion,pixels,Usage"
        for (s = 0; s < 3; s++) {
            usage = s == 0 ? "Training" : s == 1 ? "PublicTest" : "PrivateTest"
            rows = s == 0 ? int(n / 7) : 2
            for (c = 0; c < 7; c++) for (r = 0; r < rows; r++) {
                line = c ","
                for (i = 0; i < 2304; i++) line = line (i ? " " : "") int(20 + 30 * c + 40 * rand())
                print line "," usage
            }
        }
    }' > "$work/fer2013.csv"
    data="$work/fer2013.csv"
fi
root_flag=()
[ "$(id -u)" -eq 0 ] && root_flag=(--allow-run-as-root)
common=(--data_root "$data" --runs_dir "$work/runs" --arch "$arch" --backend cpu
        --batch_size "$batch" --epochs 2 --progress plain)

# img/s of the second epoch: "epoch 2/2: ... (batches: data X s, model Y s)"; training images
# from the loader's "(train): N/N" line
ips() {
    local log=$1 n
    n=$(grep -m1 "(train):" "$log" | sed 's/.*(train): \([0-9]*\).*/\1/')
    grep "^epoch 2/2:" "$log" | sed 's/.*data \([0-9.]*\) s, model \([0-9.]*\) s.*/\1 \2/' |
        awk -v n="$n" '{ printf "%.1f\n", n / ($1 + $2) }'
}

run_one() { # config round
    local log="$work/$1_$2.log"
    case "$1" in
        one) "$fer_train" "${common[@]}" --threads 1 --exp "one_$2" > "$log" 2>&1 ;;
        thr2) "$fer_train" "${common[@]}" --threads 2 --exp "thr2_$2" > "$log" 2>&1 ;;
        ranks2) mpirun -np 2 "${root_flag[@]}" --oversubscribe --bind-to none \
                    --mca btl_vader_single_copy_mechanism none \
                    "$fer_train" "${common[@]}" --threads 1 --exp "ranks2_$2" > "$log" 2>&1 ;;
    esac || { echo "bench/mpi.sh: $1 failed, see below" >&2; cat "$log" >&2; exit 1; }
    ips "$log" >> "$work/$1.ips"
    if [ "$1" = ranks2 ]; then
        grep "data-parallel:.*all-reduced" "$log" | sed 's/.*, \([0-9.]*\) MB all-reduced per step, communication \([0-9.]*\) s of \([0-9.]*\) s.*/\1 \2 \3/' >> "$work/comm.txt"
    fi
}

for r in $(seq 1 "$rounds"); do
    for c in one ranks2 thr2; do run_one "$c" "$r"; done
    echo "round $r: one $(tail -1 "$work/one.ips") img/s, ranks2 $(tail -1 "$work/ranks2.ips") img/s, thr2 $(tail -1 "$work/thr2.ips") img/s" >&2
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
one=$(median "$work/one.ips") ranks2=$(median "$work/ranks2.ips") thr2=$(median "$work/thr2.ips")
echo "fer-train data-parallel, arch $arch, global batch $batch, $(nproc) cores, $rounds rounds (medians)"
echo "  1 process, 1 thread:     $one img/s"
echo "  2 ranks, 1 thread each:  $ranks2 img/s"
echo "  1 process, 2 threads:    $thr2 img/s"
awk '{ mb += $1; c += $2; s += $3 } END { if (NR) printf "  all-reduced per step:    %.3f MB; communication (rank 0, waits included): %.1f%% of step time\n", mb / NR, 100 * c / s }' "$work/comm.txt"
awk -v a="$ranks2" -v b="$one" -v c="$thr2" 'BEGIN { printf "ranks2_vs_one=%.2f ranks2_vs_threads2=%.2f\n", a / b, a / c }'
