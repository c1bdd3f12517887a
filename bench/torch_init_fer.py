#!/usr/bin/python3
"""Writes PyTorch's default initial weights for a seed as a .fer that `fer-train --resume` takes as
initial weights (a checkpoint without optimiser state starts a fresh run from its weights).

Issue 8 asks whether fer-train's initialisation is why its E5 lands below the seed's. The weights
are the ones `torch.manual_seed(seed)` followed by building the network draws, which is how
bench/torch_train_ref.py's own-draws runs start (and the seed's src/train.py: set_seed, then
build_model); so fer-train can train from them with everything else its own, at fer-train's
speed instead of PyTorch's:
  /usr/bin/python3 bench/torch_init_fer.py --seed 40 --out /work/runs/torch_init40.fer
  build/trainer/fer-train --data_root ../shared/fer2013 --exp E5_torchinit_seed40 \\
      --sampler balanced --seed 40 --resume /work/runs/torch_init40.fer
The header (architecture, classes, normalisation) comes from a template checkpoint of the same
architecture (default: the bundled E5 model); its training configuration and state are dropped.
fer-train now draws these weights itself (`--init pytorch`, the default; bit for bit, see
tests/golden/golden_init.bin); this script made E5_torchinit_seed40/41 before that existed and
is kept as an independent check: a run from its file and one with --init pytorch end identical.
"""
import argparse
import os
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--template", default=os.path.join(here, "..", "pretrained", "E5_balanced_best.fer"),
                    help="softmax SimpleCNN checkpoint whose header (architecture) is reused")
    args = ap.parse_args()
    sys.path.insert(0, here)
    sys.path.insert(0, os.path.join(here, "..", "tests", "golden"))
    from torch_ref import import_torch_numpy_pil
    modules = import_torch_numpy_pil("torch_init_fer.py")
    if modules is None:
        return 3
    np, torch, _ = modules
    from fer_to_torch import fer_bytes, read_fer
    import make_golden
    try:
        template, _, _ = read_fer(args.template, np)
    except (OSError, ValueError) as e:
        print(f"torch_init_fer.py: {e}", file=sys.stderr)
        return 2
    if template["arch"].get("name") != "simplecnn" or template["arch"].get("head", {}).get("type") != "softmax":
        print(f"torch_init_fer.py: {args.template}: not a softmax SimpleCNN checkpoint", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    net = make_golden.Net("softmax")  # draws PyTorch's default init exactly as torch_ref.build()
    weights = {name: t.detach().float().numpy() for name, t in net.state_dict().items()}
    header = {k: template[k] for k in ("format", "version", "arch", "classes", "norm", "tensors")}
    header.update(epoch=0, best_metric=0.0)
    missing = [e["name"] for e in header["tensors"] if e["name"] not in weights]
    if missing:
        print(f"torch_init_fer.py: {args.template}: tensors the network lacks: {missing}", file=sys.stderr)
        return 2
    blob = fer_bytes(header, weights, np)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, args.out)
    print(f"{args.out}: PyTorch's seed-{args.seed} initial weights, {len(header['tensors'])} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
