#!/usr/bin/python3
"""PyTorch side of bench/conv_kinds.sh: the shapes of bench/bench_conv_kinds.c, forward and
backward (input + weight gradients) of F.conv2d without bias, NCHW eager and channels_last, best
of R after a warm-up. Prints `<name> <variant> fwd_gflops X bwd_gflops Y` per shape and variant.
Usage: torch_conv_kinds.py [batch=64] [threads=2] [reps=5]"""
import sys
import time

KINDS = [  # name, ci, co, hw, k, stride, pad, groups (as bench_conv_kinds.c)
    ("dw3x3_s1_c64_24", 64, 64, 24, 3, 1, 1, 64),
    ("dw3x3_s2_c64_24", 64, 64, 24, 3, 2, 1, 64),
    ("dw3x3_s1_c128_12", 128, 128, 12, 3, 1, 1, 128),
    ("pw1x1_64_128_24", 64, 128, 24, 1, 1, 0, 1),
    ("pw1x1_128_128_12", 128, 128, 12, 1, 1, 0, 1),
    ("proj1x1_s2_64_128_24", 64, 128, 24, 1, 2, 0, 1),
    ("conv3x3_s2_64_128_24", 64, 128, 24, 3, 2, 1, 1),
    ("conv3x3_s1_64_24", 64, 64, 24, 3, 1, 1, 1),
    ("conv3x3_s1_128_12", 128, 128, 12, 3, 1, 1, 1),
    ("conv3x3_s1_256_6", 256, 256, 6, 3, 1, 1, 1),
]


def main():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(f"torch_conv_kinds.py: needs Debian's python3-torch ({e})", file=sys.stderr)
        return 3
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for name, ci, co, hw, k, stride, pad, groups in KINDS:
        oh = (hw + 2 * pad - k) // stride + 1
        macs = n * co * oh * oh * (ci // groups) * k * k
        for variant in ("eager", "cl"):
            fmt = torch.channels_last if variant == "cl" else torch.contiguous_format
            x = torch.randn(n, ci, hw, hw).to(memory_format=fmt).requires_grad_(True)
            w = torch.randn(co, ci // groups, k, k).to(memory_format=fmt).requires_grad_(True)
            dy = torch.randn(n, co, oh, oh).to(memory_format=fmt)
            bf = bb = 1e30
            for r in range(reps + 1):
                t0 = time.perf_counter()
                y = F.conv2d(x, w, None, stride, pad, 1, groups)
                t1 = time.perf_counter()
                gx, gw = torch.autograd.grad(y, (x, w), dy)
                t2 = time.perf_counter()
                if r:
                    bf, bb = min(bf, t1 - t0), min(bb, t2 - t1)
            print(f"{name} {variant} fwd_gflops {2 * macs / bf * 1e-9:.2f} "
                  f"bwd_gflops {4 * macs / bb * 1e-9:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
