#!/usr/bin/python3
"""PyTorch reference timings for bench/run.sh (Debian's python3-torch, CPU).

The network is SimpleCNN as the seed defines it (three blocks of conv3x3-BN-ReLU x2 + maxpool,
32/64/128 channels, linear 4608->256, ReLU, dropout 0.3, linear 256->128, linear 128->7),
written here from the architecture description. Same work as bench_model: training step =
forward + cross-entropy + backward + clip_grad_norm_(5.0) + Adam; inference = eval forward.

--arch-json FILE: the network of an architecture JSON (bench_model json writes it), built by
bench/torch_arch.py, instead of SimpleCNN; input shape and classes come from the JSON.

Variants (--variant):
  eager  NCHW eager mode, the seed's code path
  cl     channels_last; for inference also TorchScript script + freeze (the best measured; an
         --arch-json network is traced instead of scripted, its forward walks a graph)
Prints one line per timed iteration: `train_img_s X`, `infer_img_s X` or `latency_ms X`.
Exit status 3 with a message when torch is not importable.
"""
import argparse
import json
import os
import sys
import time


def import_torch_numpy_pil(tool):
    """(numpy, torch, PIL.Image) for the PyTorch cross-check scripts, or None after one line
    saying what is missing."""
    try:
        import numpy
        import torch
        from PIL import Image
    except ImportError as e:
        print(f"{tool}: needs Debian's python3-torch, numpy and PIL ({e})", file=sys.stderr)
        return None
    return numpy, torch, Image


def build(torch):
    nn = torch.nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.MaxPool2d(2)]

    layers = block(1, 32) + block(32, 64) + block(64, 128)
    layers += [nn.Flatten(), nn.Linear(128 * 6 * 6, 256), nn.ReLU(), nn.Dropout(0.3),
               nn.Linear(256, 128), nn.Linear(128, 7)]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "infer", "latency"])
    ap.add_argument("--variant", choices=["eager", "cl"], default="eager")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--arch-json", metavar="FILE", help="architecture JSON instead of SimpleCNN")
    args = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        print(f"torch_ref.py: PyTorch is not installed ({e})", file=sys.stderr)
        return 3
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    cl = args.variant == "cl"
    in_shape, classes = (1, 48, 48), 7
    if args.arch_json:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import torch_arch
        with open(args.arch_json) as f:
            arch = json.load(f)
        model = torch_arch.build(arch, channels_last=cl)
        in_shape, classes = tuple(arch.get("input", in_shape)), int(arch.get("classes", classes))
    else:
        model = build(torch)
    x = torch.randn(args.batch, *in_shape)
    y = torch.randint(0, classes, (args.batch,))
    if cl:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    if args.mode == "train":
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
    else:
        model.eval()
        fn = model
        if cl:
            with torch.no_grad():
                compiled = torch.jit.trace(model, x) if args.arch_json else torch.jit.script(model)
                fn = torch.jit.freeze(compiled)

        def step():
            with torch.no_grad():
                fn(x)

    for it in range(-args.warmup, args.iters):
        t0 = time.perf_counter()
        step()
        t = time.perf_counter() - t0
        if it < 0:
            continue
        if args.mode == "latency":
            print(f"latency_ms {t * 1e3 / args.batch:.4f}", flush=True)
        else:
            print(f"{args.mode}_img_s {args.batch / t:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
