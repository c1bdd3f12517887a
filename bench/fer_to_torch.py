#!/usr/bin/python3
"""Scores a fer-train checkpoint with PyTorch: loads the .fer tensors into bench/torch_ref.py's
SimpleCNN and prints accuracy, macro-F1 and per-class F1 per split (torch_train_ref.py's scoring).

Issue 8 compares fer-train with PyTorch training the same recipe; this shows the comparison is
of the trained weights and not of the evaluators (an E5 checkpoint scores identically here and
in fer-eval). Softmax-head SimpleCNN checkpoints only.
  /usr/bin/python3 bench/fer_to_torch.py runs/E5_balanced_seed40/best.fer \
        --data_root ../shared/fer2013 --splits val test
"""
import argparse
import json
import os
import struct
import sys
import zlib


def read_fer(path, np):
    """(header dict, {tensor name: float32 array}, {optimiser state name: float32 array}) of a
    .fer file (model/README.md's layout)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 36 or blob[:8] != b"FERMODEL":
        raise ValueError(f"{path}: not a fer checkpoint (bad magic)")
    header_bytes, = struct.unpack_from("<I", blob, 12)
    payload, size = struct.unpack_from("<QQ", blob, 16)
    if size != len(blob) or zlib.crc32(blob[:-4]) != struct.unpack_from("<I", blob, size - 4)[0]:
        raise ValueError(f"{path}: truncated or corrupt (size or CRC mismatch)")
    header = json.loads(blob[32:32 + header_bytes])
    tensors = {t["name"]: np.frombuffer(blob, dtype="<f4", count=t["numel"],
                                        offset=payload + t["offset"]).reshape(t["shape"])
               for t in header["tensors"]}
    optim = {t["name"]: np.frombuffer(blob, dtype="<f4", count=t["numel"],
                                      offset=payload + t["offset"])
             for t in header.get("optimizer", {}).get("state", [])}
    return header, tensors, optim


def torch_state(tensors, reference, torch):
    """fer names (layers.N.*, head.*) -> torch_ref's Sequential names (N.*, 26.* for the head)."""
    head_index = len(reference) - 1
    shapes = reference.state_dict()
    state = {}
    for name, value in tensors.items():
        key = name[len("layers."):] if name.startswith("layers.") else \
            name.replace("head.", f"{head_index}.", 1)
        target = shapes[key]
        state[key] = torch.from_numpy(value.copy()).reshape(target.shape).to(target.dtype)
    return state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--data_root", required=True)
    ap.add_argument("--splits", nargs="+", default=["val", "test"])
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_ref import build, import_torch_numpy_pil
    modules = import_torch_numpy_pil("fer_to_torch.py")
    if modules is None:
        return 3
    np, torch, Image = modules
    import torch_train_ref as ref

    try:
        header, tensors, _ = read_fer(args.checkpoint, np)
    except (OSError, ValueError) as e:
        print(f"fer_to_torch.py: {e}", file=sys.stderr)
        return 1
    if header["arch"].get("head", {}).get("type") != "softmax":
        print(f"fer_to_torch.py: {args.checkpoint}: only softmax-head checkpoints", file=sys.stderr)
        return 1
    model = build(torch)
    model.load_state_dict(torch_state(tensors, model, torch))
    for split in args.splits:
        acc, mf1, per_class = ref.scores(np, *ref.predict_split(args.data_root, split, model, torch,
                                                                 np, Image))
        print(json.dumps({"split": split, "accuracy": round(acc, 4), "macro_f1": round(mf1, 4),
                          "per_class_f1": per_class}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
