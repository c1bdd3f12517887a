#!/usr/bin/python3
"""Scores fer-train checkpoints with PyTorch: loads the .fer tensors into bench/torch_ref.py's
SimpleCNN and prints accuracy, macro-F1 and per-class F1 per split (torch_train_ref.py's scoring).

Issue 8 compares fer-train with PyTorch training the same recipe; this shows the comparison is
of the trained weights and not of the evaluators (an E5 checkpoint scores identically here and
in fer-eval). Softmax-head SimpleCNN checkpoints only; a PyTorch state dict from
torch_train_ref.py (best.pt) is accepted too, so both trainers' models go through one path.
  /usr/bin/python3 bench/fer_to_torch.py runs/E5_balanced_seed40/best.fer \
        --data_root ../shared/fer2013 --splits val test
With several checkpoints, --agreement adds how often each pair disagrees and each model's mix of
predicted classes; --recalibrate_bn re-estimates each model's BatchNorm running statistics over
the training split (augmented as in training, fixed order) and prints how far they move and the
scores with the re-estimated statistics (the model was trained with what it stores if both
are small).
"""
import argparse
import json
import os
import struct
import sys
import zlib

FIXED_BYTES, ALIGN = 32, 64  # .fer: fixed header bytes, payload and tensor alignment


def read_fer(path, np):
    """(header dict, {tensor name: float32 array}, {optimiser state name: float32 array}) of a
    .fer file (model/README.md's layout)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < FIXED_BYTES + 4 or blob[:8] != b"FERMODEL":
        raise ValueError(f"{path}: not a fer checkpoint (bad magic)")
    header_bytes, = struct.unpack_from("<I", blob, 12)
    payload, size = struct.unpack_from("<QQ", blob, 16)
    if size != len(blob) or zlib.crc32(blob[:-4]) != struct.unpack_from("<I", blob, size - 4)[0]:
        raise ValueError(f"{path}: truncated or corrupt (size or CRC mismatch)")
    header = json.loads(blob[FIXED_BYTES:FIXED_BYTES + header_bytes])
    tensors = {t["name"]: np.frombuffer(blob, dtype="<f4", count=t["numel"],
                                        offset=payload + t["offset"]).reshape(t["shape"])
               for t in header["tensors"]}
    optim = {t["name"]: np.frombuffer(blob, dtype="<f4", count=t["numel"],
                                      offset=payload + t["offset"])
             for t in header.get("optimizer", {}).get("state", [])}
    return header, tensors, optim


def fer_bytes(header, tensors, np):
    """A complete .fer file (read_fer's layout, as model/src/checkpoint.c writes it) with `header`'s
    tensor table filled from {name: array}; the CRC-32 trailer covers every byte before it."""
    header = dict(header)
    table, offset = [], 0
    for entry in header["tensors"]:
        table.append(dict(entry, offset=offset))
        offset += (entry["numel"] * 4 + ALIGN - 1) // ALIGN * ALIGN
    header["tensors"], header["payload_bytes"] = table, offset
    text = json.dumps(header, separators=(",", ":")).encode()
    payload_at = (FIXED_BYTES + len(text) + ALIGN - 1) // ALIGN * ALIGN
    size = payload_at + offset + 4
    blob = bytearray(size - 4)
    blob[:8] = b"FERMODEL"
    struct.pack_into("<IIQQ", blob, 8, header["version"], len(text), payload_at, size)
    blob[FIXED_BYTES:payload_at] = text.ljust(payload_at - FIXED_BYTES, b" ")
    for entry in table:
        data = np.ascontiguousarray(tensors[entry["name"]], dtype="<f4").reshape(-1)
        if data.size != entry["numel"]:
            raise ValueError(f"{entry['name']}: {data.size} values, the header wants {entry['numel']}")
        start = payload_at + entry["offset"]
        blob[start:start + data.nbytes] = data.tobytes()
    return bytes(blob) + struct.pack("<I", zlib.crc32(blob))


def sequential_key(name, reference):
    """fer's tensor names (layers.N.*, head.*; also make_golden's Net) -> torch_ref's Sequential
    names (N.*, 26.* for the head); other names unchanged."""
    if name.startswith("layers."):
        return name[len("layers."):]
    return name.replace("head.", f"{len(reference) - 1}.", 1) if name.startswith("head.") else name


def torch_state(tensors, reference, torch):
    """{fer tensor name: array} -> a state dict for torch_ref's Sequential `reference`."""
    shapes = reference.state_dict()
    state = {}
    for name, value in tensors.items():
        key = sequential_key(name, reference)
        target = shapes[key]
        state[key] = torch.from_numpy(value.copy()).reshape(target.shape).to(target.dtype)
    return state


def load_model(path, build, np, torch):
    """SimpleCNN with the weights of a .fer (softmax head) or a torch_train_ref.py state dict."""
    model = build(torch)
    if path.endswith(".pt"):
        try:
            state = torch.load(path)
        except OSError:
            raise
        except Exception as e:  # torch.load raises pickle, zip and value errors alike
            raise ValueError(f"{path}: not a PyTorch checkpoint ({e})")
        state = state.get("model", state)  # --fer_draws runs save make_golden's Net names
        model.load_state_dict({sequential_key(k, model): v for k, v in state.items()})
        return model
    header, tensors, _ = read_fer(path, np)
    if header["arch"].get("head", {}).get("type") != "softmax":
        raise ValueError(f"{path}: only softmax-head checkpoints")
    model.load_state_dict(torch_state(tensors, model, torch))
    return model


def recalibrate_bn(model, images, ref, np, torch, Image):
    """Re-estimates the BN running statistics over `images` (augmented as in training, fixed
    order and draws); returns per BN layer (max relative change of the variance, max change of
    the mean in stored standard deviations)."""
    import random
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    stored = [(b.running_mean.clone(), b.running_var.clone()) for b in bns]
    for b in bns:
        b.reset_running_stats()
        b.momentum = None  # cumulative average over the whole pass
    rnd = random.Random(0)
    order = np.random.RandomState(0).permutation(len(images))
    model.train()
    with torch.no_grad():
        for s in range(0, len(order), 256):
            batch = np.stack([np.asarray(ref.augment(Image.fromarray(images[i]), rnd, Image))
                              for i in order[s:s + 256]])
            model(ref.normalized(np, torch, batch))
    return [(float(((b.running_var - v).abs() / v).max()),
             float(((b.running_mean - m).abs() / v.sqrt()).max()))
            for b, (m, v) in zip(bns, stored)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoints", nargs="+", help=".fer files or torch_train_ref.py best.pt")
    ap.add_argument("--data_root", required=True)
    ap.add_argument("--splits", nargs="+", default=["val", "test"])
    ap.add_argument("--agreement", action="store_true",
                    help="pairwise disagreement and predicted-class mix (2+ checkpoints)")
    ap.add_argument("--recalibrate_bn", action="store_true",
                    help="re-estimate BN statistics over train and score again")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_ref import build, import_torch_numpy_pil
    modules = import_torch_numpy_pil("fer_to_torch.py")
    if modules is None:
        return 3
    np, torch, Image = modules
    import torch_train_ref as ref
    torch.set_num_threads(2)

    try:
        models = [load_model(p, build, np, torch) for p in args.checkpoints]
        data = {split: ref.load_split(args.data_root, split, np, Image) for split in args.splits}
    except (OSError, ValueError) as e:
        print(f"fer_to_torch.py: {e}", file=sys.stderr)
        return 1

    def report(tag):
        preds = {}
        for path, model in zip(args.checkpoints, models):
            for split, (x, y) in data.items():
                pred = ref.predict(model, torch, ref.normalized(np, torch, x))
                preds[path, split] = pred
                acc, mf1, per_class = ref.scores(np, y, pred)
                rec = {"checkpoint": path, "split": split, "accuracy": round(acc, 4),
                       "macro_f1": round(mf1, 4), "per_class_f1": per_class}
                if tag:
                    rec["bn"] = tag
                print(json.dumps(rec), flush=True)
        return preds

    preds = report(None)
    if args.agreement:
        for split, (x, y) in data.items():
            truth = np.bincount(y, minlength=7) / len(y)
            print(json.dumps({"split": split, "class_mix": "truth",
                              "share": [round(float(v), 3) for v in truth]}))
            for path in args.checkpoints:
                mix = np.bincount(preds[path, split], minlength=7) / len(y)
                print(json.dumps({"split": split, "class_mix": path,
                                  "share": [round(float(v), 3) for v in mix]}))
            for i, a in enumerate(args.checkpoints):
                for b in args.checkpoints[i + 1:]:
                    rate = float((preds[a, split] != preds[b, split]).mean())
                    print(json.dumps({"split": split, "disagree": [a, b], "rate": round(rate, 4)}))
    if args.recalibrate_bn:
        x_train, _ = ref.load_split(args.data_root, "train", np, Image)
        for path, model in zip(args.checkpoints, models):
            moved = recalibrate_bn(model, x_train, ref, np, torch, Image)
            print(json.dumps({"checkpoint": path,
                              "bn_var_max_rel_change": [round(v, 3) for v, _ in moved],
                              "bn_mean_max_change_sd": [round(m, 3) for _, m in moved]}),
                  flush=True)
        report("recalibrated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
