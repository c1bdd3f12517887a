#!/bin/sh
# CPU benchmark: our "cpu" backend against PyTorch on the same machine, alternating.
#
#   bench/run.sh [--rounds N] [--batch B] [--threads T] [--build DIR] [--no-torch] [--arch NAME]
#
# --arch NAME: the network, a preset name or an architecture JSON path (default: SimpleCNN);
# both sides run it (bench_model through FER_BENCH_ARCH, PyTorch through bench_model's JSON dump
# and torch_ref.py --arch-json).
# Builds bench_model and bench_sgemm (meson + ninja, DIR defaults to build-bench in the source
# tree), measures the SGEMM ceiling, then runs N rounds (default 5); each round runs, one after
# the other, ours, PyTorch eager NCHW and PyTorch channels_last (+ TorchScript freeze for
# inference) for
#   - the training step (forward + cross-entropy + backward + clip 5.0 + Adam), batch B, T threads
#   - inference, batch B, T threads
#   - batch-1 latency, 1 thread
# and prints the medians over all timed iterations, the ratios ours/PyTorch and the fraction of
# the SGEMM ceiling. Each round also runs our training step with FER_ISA=avx2 and FER_ISA=avx512
# (the kernel sets, alternating) and the one-core FMA peaks (bench_fma_peak: ymm, zmm); the
# report gives the kernel set, the peaks, avx512_vs_avx2_train=X.XX (or "skipped (no AVX512F)"),
# bf16_vs_fp32_train=X.XX (the avx512 training step with --amp, bf16 Winograd GEMMs, over the
# same step in FP32; "skipped (no AVX512_BF16)" where the backend refuses bf16)
# and, last, train_ratio_vs_torch=X.XX (against eager NCHW). Each round also times batch-1
# latency (1 thread) of the folded FP32 model and of its int8 network (fer/quant.h; bench_model
# latency_folded / latency_int8): int8_vs_fp32_latency=X.XX is int8 ms / FP32 ms (lower is
# better), or "skipped (no AVX512_VNNI)" when the int8 kernels would be the portable ones. FER_ISA in the environment picks
# the set of the "ours" columns (default: the best the CPU runs).
# PyTorch comes from /usr/bin/python3 (Debian python3-torch); without it that side is skipped.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
rounds=5 batch=256 threads=2 build="$root/build-bench" torch=1 arch=
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --no-torch) torch=0; shift ;;
    --arch) arch=$2; shift 2 ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

# ---- build -----------------------------------------------------------------------------------
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release >/dev/null ||
        { echo "run.sh: meson setup failed in $build" >&2; exit 1; }
fi
ninja -C "$build" bench/bench_model bench/bench_sgemm bench/bench_fma_peak >/dev/null ||
    { echo "run.sh: building the benchmarks failed" >&2; exit 1; }
bm="$build/bench/bench_model"
bs="$build/bench/bench_sgemm"
bp="$build/bench/bench_fma_peak"

py=/usr/bin/python3
if [ "$torch" = 1 ] && ! "$py" -c 'import torch' 2>/dev/null; then
    echo "run.sh: PyTorch not found for $py (Debian: apt-get install python3-torch);" \
         "skipping the PyTorch side" >&2
    torch=0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the network ---------------------------------------------------------------------------
# the positional parameters become torch_ref.py's network arguments (none for SimpleCNN)
set --
if [ -n "$arch" ]; then
    export FER_BENCH_ARCH="$arch"
    "$bm" json >"$tmp/arch.json" || { echo "run.sh: cannot load architecture '$arch'" >&2; exit 1; }
    set -- --arch-json "$tmp/arch.json"
    # the architecture's name is the first "name" (nodes of a graph carry names too)
    arch_name=$(grep -o '"name":"[^"]*"' "$tmp/arch.json" | head -n 1 | cut -d'"' -f4)
    arch_in=$(sed -n 's/.*"input":\[\([0-9]*\),\([0-9]*\),\([0-9]*\)\].*/\1x\2x\3/p' "$tmp/arch.json")
    arch_classes=$(sed -n 's/.*"classes":\([0-9]*\).*/\1/p' "$tmp/arch.json")
    title="$arch_name ($arch_in, $arch_classes classes)"
else
    unset FER_BENCH_ARCH
    title="SimpleCNN (1x48x48, 7 classes)"
fi

# ---- measurements ----------------------------------------------------------------------------
"$bm" flops >"$tmp/flops"

# run <file> <command...>: appends the timed lines of one invocation
run() {
    out=$1; shift
    "$@" >>"$out" || { echo "run.sh: '$*' failed" >&2; exit 1; }
}

# can the avx512 kernel set run here? (the backend refuses naming the missing feature)
avx512_skip=
if ! FER_ISA=avx512 "$bm" latency cpu 1 1 1 0 >/dev/null 2>"$tmp/avx512_probe"; then
    avx512_skip=$(sed -n 's/.*(\(no [^)]*\)).*/\1/p' "$tmp/avx512_probe" | head -n 1)
    avx512_skip=${avx512_skip:-failed: $(head -c 200 "$tmp/avx512_probe")}
fi
# bf16 training (--amp): the cpu backend refuses it without AVX512_BF16 (or its kernels)
bf16_skip=$avx512_skip
if [ -z "$bf16_skip" ] &&
   ! FER_ISA=avx512 "$bm" latency cpu 1 1 1 0 --amp >/dev/null 2>"$tmp/bf16_probe"; then
    bf16_skip=$(grep -q AVX512_BF16 "$tmp/bf16_probe" && echo "no AVX512_BF16" ||
                echo "failed: $(head -c 200 "$tmp/bf16_probe")")
fi
# which int8 kernel set runs here (bench_model prints "# int8: SET kernels, ...")
int8_set= int8_skip=
if int8_probe=$("$bm" latency_int8 cpu 1 1 1 0 2>&1); then
    int8_set=$(echo "$int8_probe" | sed -n 's/^# int8: \([a-z0-9_]*\) kernels.*/\1/p')
    case "$int8_set" in
    avx512_vnni | avx_vnni) ;;
    *) int8_skip="no AVX512_VNNI" ;;
    esac
else # a network with a node int8 does not cover
    int8_skip=$(echo "$int8_probe" | tail -n 1 | cut -c 1-160)
fi
pin=
command -v taskset >/dev/null && pin="taskset -c 0"

r=1
while [ "$r" -le "$rounds" ]; do
    printf 'round %d/%d\r' "$r" "$rounds" >&2
    run "$tmp/sgemm" "$bs" "$threads" 2048 2
    run "$tmp/ours_train" "$bm" train cpu "$threads" "$batch" 2 1
    if [ "$torch" = 1 ]; then
        run "$tmp/eager_train" "$py" "$here/torch_ref.py" train --variant eager --threads "$threads" --batch "$batch" --iters 2 "$@"
        run "$tmp/cl_train" "$py" "$here/torch_ref.py" train --variant cl --threads "$threads" --batch "$batch" --iters 2 "$@"
    fi
    run "$tmp/ours_infer" "$bm" infer cpu "$threads" "$batch" 3 1
    if [ "$torch" = 1 ]; then
        run "$tmp/eager_infer" "$py" "$here/torch_ref.py" infer --variant eager --threads "$threads" --batch "$batch" --iters 3 "$@"
        run "$tmp/cl_infer" "$py" "$here/torch_ref.py" infer --variant cl --threads "$threads" --batch "$batch" --iters 3 "$@"
    fi
    run "$tmp/peak" $pin "$bp"
    run "$tmp/isa_avx2_train" env FER_ISA=avx2 "$bm" train cpu "$threads" "$batch" 2 1
    if [ -z "$avx512_skip" ]; then
        run "$tmp/isa_avx512_train" env FER_ISA=avx512 "$bm" train cpu "$threads" "$batch" 2 1
    fi
    if [ -z "$bf16_skip" ]; then # right after the FP32 avx512 run: the same invocation + --amp
        run "$tmp/bf16_train" env FER_ISA=avx512 "$bm" train cpu "$threads" "$batch" 2 1 --amp
    fi
    run "$tmp/ours_lat" "$bm" latency cpu 1 1 20 10
    run "$tmp/folded_lat" "$bm" latency_folded cpu 1 1 20 10
    if [ -z "$int8_skip" ]; then
        run "$tmp/int8_lat" "$bm" latency_int8 cpu 1 1 20 10
    fi
    if [ "$torch" = 1 ]; then
        run "$tmp/eager_lat" "$py" "$here/torch_ref.py" latency --variant eager --threads 1 --batch 1 --iters 20 --warmup 10 "$@"
    fi
    r=$((r + 1))
done
printf '\n' >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----------------------------------------------------------------------------------
median() { # file -> median of column 2 ("-" when missing)
    if [ -s "$1" ]; then
        grep -v '^#' "$1" | awk '{print $2}' | sort -g | awk '{v[NR]=$1} END {
            if (NR % 2) printf "%.2f", v[(NR+1)/2]; else printf "%.2f", (v[NR/2]+v[NR/2+1])/2 }'
    else
        printf -- '-'
    fi
}
count() { [ -s "$1" ] && grep -vc '^#' "$1" || echo 0; }
ratio() { # a b -> a/b with 2 decimals, "-" when either is missing
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-";
                                     else printf "%.2f", a / b }'
}

ot=$(median "$tmp/ours_train") oi=$(median "$tmp/ours_infer") ol=$(median "$tmp/ours_lat")
et=$(median "$tmp/eager_train") ei=$(median "$tmp/eager_infer") el=$(median "$tmp/eager_lat")
ct=$(median "$tmp/cl_train") ci=$(median "$tmp/cl_infer")
# the ceiling: best of the rounds (the least disturbed measurement)
sg_blas=$(awk '/^sgemm_openblas_gflops/ {if ($2 > m) m = $2} END {if (m) print m}' "$tmp/sgemm")
sg_ours=$(awk '/^sgemm_ours_gflops/ {if ($2 > m) m = $2} END {if (m) print m}' "$tmp/sgemm")
ceiling=${sg_blas:-$sg_ours}
ceiling_src=$([ -n "$sg_blas" ] && echo "OpenBLAS" || echo "ours (OpenBLAS not built in)")
ft=$(awk '/^flops_train/ {print $2}' "$tmp/flops")
fi_=$(awk '/^flops_infer/ {print $2}' "$tmp/flops")
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
isa=$(grep -q avx512f /proc/cpuinfo && echo "AVX-512" || (grep -q avx2 /proc/cpuinfo && echo "AVX2+FMA" || echo "no AVX2"))
note=$(sed -n 's/^# backend: //p' "$tmp/ours_train" | head -n 1)
kset=$(echo "$note" | sed -n 's/^cpu backend: \([a-z0-9]*\) kernels.*/\1/p')
# one core's FMA peaks: best of the rounds
peak_ymm=$(awk '$1 == "fma_peak_ymm_gflops" && $2 + 0 > m {m = $2} END {if (m) print m; else print "-"}' "$tmp/peak")
peak_zmm=$(awk '$1 == "fma_peak_zmm_gflops" && $2 + 0 > m {m = $2} END {if (m) print m; else print "-"}' "$tmp/peak")
t_avx2=$(median "$tmp/isa_avx2_train")
t_avx512=$(median "$tmp/isa_avx512_train")

echo "fer CPU benchmark - $title, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "ours: $note (kernel set: ${kset:-?}, FER_ISA=${FER_ISA:-auto})"
echo "machine: $cpu, $(nproc) cores, $isa; torch: $([ "$torch" = 1 ] && "$py" -c 'import torch; print(torch.__version__)' || echo 'not run')"
echo "load average (1/5/15 min) before: $load_before, after: $load_after"
echo "batch $batch, $threads threads (latency: batch 1, 1 thread); $rounds alternating rounds;" \
     "medians of $(count "$tmp/ours_train") / $(count "$tmp/ours_infer") / $(count "$tmp/ours_lat") timed iterations"
echo "SGEMM ceiling ($ceiling_src, $threads threads, 2048^3, best of the rounds): $ceiling GFLOP/s (OpenBLAS ${sg_blas:--}, ours $sg_ours)"
echo
printf '%-26s %10s %13s %13s %11s %11s\n' "" "ours" "torch eager" "torch best" "ours/eager" "ours/best"
printf '%-26s %10s %13s %13s %11s %11s\n' "training step (img/s)" "$ot" "$et" "$ct" "$(ratio "$ot" "$et")" "$(ratio "$ot" "$ct")"
printf '%-26s %10s %13s %13s %11s %11s\n' "inference (img/s)" "$oi" "$ei" "$ci" "$(ratio "$oi" "$ei")" "$(ratio "$oi" "$ci")"
printf '%-26s %10s %13s %13s %11s %11s\n' "batch-1 latency (ms)" "$ol" "$el" "-" "$(ratio "$el" "$ol")" "-"
echo "(torch best: channels_last; inference also TorchScript script+freeze. latency ratio = torch ms / ours ms)"
awk -v t="$ot" -v i="$oi" -v ft="$ft" -v fi="$fi_" -v c="$ceiling" 'BEGIN {
    printf "ours: training %.1f GFLOP/s = %.0f%% of the SGEMM ceiling; inference %.1f GFLOP/s = %.0f%%\n",
        t * ft * 1e-9, 100 * t * ft * 1e-9 / c, i * fi * 1e-9, 100 * i * fi * 1e-9 / c }'
awk -v ft="$ft" -v fi="$fi_" 'BEGIN { printf "(FLOP counted as the direct convolution does: %.0f M per image for training, %.0f M for\n inference; Winograd (F(4x4,3x3) in FP32) needs fewer multiplications, so > 100%% is possible)\n", ft * 1e-6, fi * 1e-6 }'
echo "FMA peak of one core (bench_fma_peak${pin:+, pinned}, best of the rounds): ymm $peak_ymm GFLOP/s, zmm $peak_zmm GFLOP/s"
awk -v t="$ot" -v ft="$ft" -v y="$peak_ymm" -v z="$peak_zmm" -v th="$threads" 'BEGIN {
    g = t * ft * 1e-9; printf "ours: training %.1f GFLOP/s (direct-convolution count) = ", g
    if (y != "-") printf "%.0f%% of %d x the ymm peak", 100 * g / (th * y), th
    if (z != "-") printf ", %.0f%% of %d x the zmm peak", 100 * g / (th * z), th
    printf "\n" }'
echo "training step by kernel set (img/s, medians, same rounds): avx2 $t_avx2, avx512 ${avx512_skip:+skipped ($avx512_skip)}${avx512_skip:-$t_avx512}"
if [ -n "$avx512_skip" ]; then
    echo "avx512_vs_avx2_train=skipped ($avx512_skip)"
else
    echo "avx512_vs_avx2_train=$(ratio "$t_avx512" "$t_avx2" | sed 's/^-$/n\/a/')"
fi
t_bf16=$(median "$tmp/bf16_train")
echo "training step avx512, FP32 / bf16 --amp (img/s, medians, same rounds): $t_avx512 / ${bf16_skip:+skipped ($bf16_skip)}${bf16_skip:-$t_bf16}"
if [ -n "$bf16_skip" ]; then
    echo "bf16_vs_fp32_train=skipped ($bf16_skip)"
else
    echo "bf16_vs_fp32_train=$(ratio "$t_bf16" "$t_avx512" | sed 's/^-$/n\/a/')"
fi
fl=$(median "$tmp/folded_lat") il=$(median "$tmp/int8_lat")
echo "batch-1 latency, 1 thread, folded FP32 / int8 (ms, medians): $fl / ${int8_skip:+skipped ($int8_skip)}${int8_skip:-$il ($int8_set kernels)}"
if [ -n "$int8_skip" ]; then
    echo "int8_vs_fp32_latency=skipped ($int8_skip)"
else
    echo "int8_vs_fp32_latency=$(ratio "$il" "$fl" | sed 's/^-$/n\/a/')"
fi
echo "train_ratio_vs_torch=$(ratio "$ot" "$et" | sed 's/^-$/n\/a/')"
