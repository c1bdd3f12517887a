#!/usr/bin/python3
"""Replays fer-train's training steps in PyTorch with fer-train's own random draws and compares
the weights: the whole training step at full scale (real images, sampler, augmentation, labels,
dropout masks, loss, clipping, Adam, BN statistics), not one op at a time.

fer-train draws every random decision from (seed, epoch, position, purpose) (trainer/src/rng.h),
so the draws for any batch can be recomputed here. Two interrupted runs of the same command give
the weights after A and after B steps; this loads the first (weights, BN buffers, Adam state),
runs steps A..B-1 in PyTorch and prints, per tensor, |PyTorch - fer-train| / |fer-train's update|.
Float rounding alone gives ~1e-3 or less after one step (Adam magnifies near-zero gradients);
a mismatched draw, label or formula gives ~1. The slope (PyTorch's update projected on
fer-train's) shows whether a small difference is noise (slope 1) or a bias (slope off 1).

  T="build/trainer/fer-train --data_root ../shared/fer2013 --head softmax --loss ce \\
     --sampler balanced --epochs 30 --batch_size 256 --lr 1e-3 --seed 40 --runs_dir /tmp/rp"
  $T --exp a --interrupt_after 1;  $T --exp b --interrupt_after 2
  /usr/bin/python3 bench/torch_replay.py /tmp/rp/a/last.fer /tmp/rp/b/last.fer \\
        --data_root ../shared/fer2013
First epoch, softmax head, cross-entropy, Adam, clip 5.0, seed-default augmentation only.
"""
import argparse
import bisect
import math
import os
import sys

MASK64 = (1 << 64) - 1
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_HERE, os.path.join(_HERE, "..", "tests", "golden")]  # torch_ref, make_golden
PURPOSE_SAMPLER, PURPOSE_AUGMENT, PURPOSE_DROPOUT = 1, 2, 3  # enum fer_rng_purpose


class Stream:
    """trainer/src/rng.h: splitmix64 steps, fer_rng_uniform (53 bits), fer_rng_below."""

    def __init__(self, state):
        self.state = state

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def below(self, n):
        return ((self.next() >> 32) * n) >> 32


def rng_key(seed, a, b, purpose):
    """fer_rng_key: one splitmix64 finalisation per mixed-in word."""
    h = seed
    for word in (None, a, b, purpose):
        h = Stream(h if word is None else h ^ word).next()
    return h


def fer_order(sampler, labels, power, seed, epoch):
    """fer_sampler_epoch: the training order of one epoch."""
    if sampler == "balanced":
        return balanced_order(labels, power, seed, epoch)
    order = list(range(len(labels)))
    r = Stream(rng_key(seed, epoch, 0, PURPOSE_SAMPLER))
    for i in range(len(order) - 1, 0, -1):  # Fisher-Yates, as the C code
        j = r.below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def balanced_order(labels, power, seed, epoch):
    """fer_sampler_epoch(BALANCED): draws with replacement, weight count^-power per sample."""
    counts = [0] * 7
    for y in labels:
        counts[y] += 1
    w = [math.pow(max(c, 1), -power) for c in counts]
    cdf, acc = [], 0.0
    for y in labels:
        acc += w[y]
        cdf.append(acc)
    r = Stream(rng_key(seed, epoch, 0, PURPOSE_SAMPLER))
    return [bisect.bisect_right(cdf, r.uniform() * acc) for _ in labels]


def augment(img, seed, epoch, position, Image):
    """fer_augment_draw + fer_augment_apply (PIL-exact) for the image at `position`."""
    r = Stream(rng_key(seed, epoch, position, PURPOSE_AUGMENT))
    flip, degrees = r.uniform() < 0.5, -15.0 + 30.0 * r.uniform()
    top, left = r.below(13), r.below(13)
    if flip:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    if degrees != 0.0:
        img = img.rotate(degrees, resample=Image.NEAREST, fillcolor=0)
    padded = Image.new("L", (56, 56), 0)
    padded.paste(img, (4, 4))
    return padded.crop((left, top, left + 44, top + 44)).resize((48, 48), Image.BILINEAR)


def fer_augmented(images, idx, seed, epoch, first, np, Image):
    """The uint8 images `idx`, at epoch positions first, first + 1, ..., augmented as fer-train
    draws it."""
    return np.stack([np.asarray(augment(Image.fromarray(images[i]), seed, epoch, first + j, Image))
                     for j, i in enumerate(idx)])


def fer_dropout_seed(seed, epoch, batch_index):
    """The dropout seed fer-train uses for training batch `batch_index` of an epoch."""
    return rng_key(seed, epoch, batch_index, PURPOSE_DROPOUT)


def fer_training_batch(images, idx, seed, epoch, batch_index, batch_size, np, Image):
    """(augmented uint8 images, dropout seed) of training batch `batch_index` of an epoch whose
    order holds `idx` at positions batch_index * batch_size onwards, as fer-train draws them."""
    return (fer_augmented(images, idx, seed, epoch, batch_index * batch_size, np, Image),
            fer_dropout_seed(seed, epoch, batch_index))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before", help="last.fer of the run interrupted after A steps")
    ap.add_argument("after", help="last.fer of the same command interrupted after B > A steps")
    ap.add_argument("--data_root", required=True)
    args = ap.parse_args()
    from torch_ref import import_torch_numpy_pil
    modules = import_torch_numpy_pil("torch_replay.py")
    if modules is None:
        return 3
    np, torch, Image = modules
    import torch.nn.functional as F
    from fer_to_torch import read_fer
    import make_golden  # Net: SimpleCNN with fer's dropout masks and tensor-table order
    import torch_train_ref as ref
    torch.set_num_threads(2)

    try:
        h0, t0, adam = read_fer(args.before, np)
        h1, t1, _ = read_fer(args.after, np)
    except (OSError, ValueError) as e:
        print(f"torch_replay.py: {e}", file=sys.stderr)
        return 1
    cfg, s0, s1 = h0["config"], h0["state"], h1["state"]
    if (cfg["head"], cfg["loss"], cfg.get("optimizer"), h0.get("optimizer") is None) != \
            ("softmax", "ce", "adam", False) or s0["epoch"] != 0 or s1["epoch"] != 0 or \
            not 0 < s0["batch"] < s1["batch"] or h1["config"]["seed"] != cfg["seed"]:
        print("torch_replay.py: need two first-epoch checkpoints (softmax, ce, adam) of the same "
              "command, the first with fewer steps", file=sys.stderr)
        return 1
    seed, batch, lr = cfg["seed"], cfg["batch_size"], h0["optimizer"]["lr"]

    net = make_golden.Net("softmax")
    table = net.tensor_table()
    with torch.no_grad():
        for name, ten, _, _, _ in table:
            ten.copy_(torch.from_numpy(t0[name].copy()).view_as(ten).to(ten.dtype))
    params = [ten for _, ten, role, _, _ in table if role == "param"]
    opt = torch.optim.Adam(params, lr=lr)
    offset = 0
    for p in params:  # fer's m and v: parameter floats in tensor-table order
        n = p.numel()
        opt.state[p] = {"step": torch.tensor(float(h0["optimizer"]["step"])),
                        "exp_avg": torch.from_numpy(adam["m"][offset:offset + n].copy()).view_as(p),
                        "exp_avg_sq": torch.from_numpy(adam["v"][offset:offset + n].copy()).view_as(p)}
        offset += n

    xtr, ytr = ref.load_split(args.data_root, "train", np, Image)
    order = fer_order(cfg["sampler"], ytr.tolist(), cfg["sampler_power"], seed, 0)
    net.train()
    for b in range(s0["batch"], s1["batch"]):
        idx = order[b * batch:(b + 1) * batch]
        imgs, dropout_seed = fer_training_batch(xtr, idx, seed, 0, b, batch, np, Image)
        x, y = ref.normalized(np, torch, imgs), torch.from_numpy(ytr[idx])
        net.set_dropout_seed(dropout_seed)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, cfg["clip_grad"])
        opt.step()
        print(f"step {b + 1}: loss {loss.item():.6f}, gradient norm {float(norm):.4f}")
    worst = 0.0
    for name, ten, _, _, _ in table:
        if name.endswith("num_batches_tracked"):
            continue
        ours, start = (t[name].reshape(-1).astype(np.float64) for t in (t1, t0))
        theirs = ten.detach().reshape(-1).double().numpy()
        update = ours - start
        rel = np.linalg.norm(theirs - ours) / max(np.linalg.norm(update), 1e-30)
        # PyTorch's update projected on fer-train's: 1 when the two differ only by noise, a
        # consistent offset across tensors would mean one trainer steps systematically further
        slope = float(np.dot(theirs - start, update) / max(np.dot(update, update), 1e-300))
        worst = max(worst, rel)
        print(f"{name:28s} |torch - fer| / |update| {rel:.1e}  slope {slope:.5f}")
    print(f"worst {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
