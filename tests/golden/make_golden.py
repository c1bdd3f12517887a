#!/usr/bin/python3
"""Writes the PyTorch golden fixtures for tests/golden/test_golden.c (llm.c style).

Run only to regenerate (the C tests never need Python):
    /usr/bin/python3 tests/golden/make_golden.py [output_dir]      # Debian python3-torch
    /usr/bin/python3 tests/golden/make_golden.py output_dir resnet # golden_resnet.bin alone
    /usr/bin/python3 tests/golden/make_golden.py output_dir soft   # golden_soft.bin alone

Everything the C side needs to rebuild the same inputs is *computed*, not stored: the input batch,
the initial weights (fer_model_init) and the dropout masks all come from the counter-based
SplitMix64 generator of model/include/fer/rng_math.h, re-implemented below with numpy uint64.
So the fixtures only hold expected outputs, which keeps them small.
The exception is golden_init.bin: PyTorch's own initial weights (torch.manual_seed, then the
modules' default init), which fer_model_init_pytorch must reproduce bit for bit.

Dropout: PyTorch's RNG cannot be reproduced in C, so the network's nn.Dropout is replaced by a
module that applies *our* keep mask (fer_dropout_keep of dropout_math.h, the mask the C library
draws for the same dropout seed) with the same 1/(1-p) scale. Train-mode goldens therefore run
the real p = 0.3 and check the dropout gradient too.

Chaos control: a float32 rounding difference can flip a ReLU whose input is within ~1e-5 of
zero; in the 256-unit layer that changes a whole row of gradients (and Adam turns even a tiny
gradient into a full step), so three-step trajectories would stop being comparable. The
optimiser runs therefore use small learning rates (Adam 1e-4, SGD 1e-3; the update rules are the
same at any lr and golden_optim.bin checks them at other settings), and the first dropout seed is
chosen so that every surviving input of that ReLU stays at least MARGIN away from zero in every
training forward. The chosen seed is stored in the fixture ("dropout_seed0").

Large tensors are stored as a strided sample (1024 values) plus float64 sum, sum of |x| and L2
norm of the whole tensor; tensors of <= 2048 elements are stored whole.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import torch_arch  # noqa: E402  (bench/torch_arch.py: a module from an architecture JSON)

# ---- the counter-based RNG (fer/rng_math.h) -------------------------------------------------
U = np.uint64


def splitmix64(x):
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x + U(0x9E3779B97F4A7C15)
        x = (x ^ (x >> U(30))) * U(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> U(27))) * U(0x94D049BB133111EB)
    return x ^ (x >> U(31))



def rng_substream(seed, k):
    with np.errstate(over="ignore"):
        inner = splitmix64(np.uint64(k) + U(0x632BE59BD9B4E019))
    return U(splitmix64(U(seed) ^ inner))


def rng_uniform(seed, n):
    i = np.arange(n, dtype=np.uint64)
    h = splitmix64(U(seed) ^ splitmix64(i))
    return (h >> U(40)).astype(np.uint32).astype(np.float32) * np.float32(1.0 / 16777216.0)


def rng_symmetric(seed, n):
    return np.float32(2.0) * rng_uniform(seed, n) - np.float32(1.0)


# ---- constants shared with test_golden.c ---------------------------------------------------
INIT_SEED = 2024      # fer_model_init seed
PERTURB_SEED = 777    # BN affine + running statistics away from 1/0
X_SEED = 31337        # input batch
DROPOUT_SEED0 = 1000  # first candidate; step s uses dropout_seed0 + s
MARGIN = 3e-4        # minimum |input| of a surviving unit of the ReLU after the 4608->256 layer
BATCH = 4
LABELS = [3, 0, 6, 2]
COUNTS = [3995, 436, 4097, 7215, 4965, 4830, 3171]  # FER-2013 train split class counts
CLIP = 5.0
STEPS = 3
ADAM = dict(lr=1e-4)
SGD = dict(lr=1e-3, momentum=0.9, nesterov=True, weight_decay=5e-4)
FOCAL_GAMMA = 2.0
SAMPLE = 1024
FULL_MAX = 2048


# ---- the network (simplecnn preset, our layer indices) --------------------------------------
class MaskDropout(nn.Module):
    """Inverted dropout with the C library's mask (fer_dropout_keep)."""

    def __init__(self, p, layer):
        super().__init__()
        self.p, self.layer, self.seed = p, layer, 0

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        layer_seed = rng_substream(self.seed, self.layer)
        keep = rng_uniform(layer_seed, x.numel()) >= np.float32(self.p)
        scale = np.float32(1.0) / (np.float32(1.0) - np.float32(self.p))
        mask = torch.from_numpy(np.where(keep, scale, np.float32(0.0)).astype(np.float32))
        return x * mask.view_as(x)


class ArcFace(nn.Module):
    def __init__(self, d, c, s=30.0, m=0.5):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(c, d))
        self.s, self.m = s, m

    def forward(self, x, labels=None):
        cos = F.normalize(x, dim=1) @ F.normalize(self.weight, dim=1).t()
        eps = 1e-7
        cos = cos.clamp(-1.0 + eps, 1.0 - eps)
        if labels is None:
            return cos * self.s
        sin = (1.0 - cos.pow(2)).clamp_min(eps).sqrt()
        phi = cos * math.cos(self.m) - sin * math.sin(self.m)
        th, mm = math.cos(math.pi - self.m), math.sin(math.pi - self.m) * self.m
        phi = torch.where(cos > th, phi, cos - mm)
        onehot = torch.zeros_like(cos).scatter_(1, labels.view(-1, 1), 1.0)
        return (onehot * phi + (1.0 - onehot) * cos) * self.s


def simplecnn_layers():
    layers, cin = [], 1
    for c in (32, 64, 128):
        for _ in range(2):
            layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            cin = c
        layers.append(nn.MaxPool2d(2, 2))
    layers += [nn.Flatten(), nn.Linear(128 * 6 * 6, 256), nn.ReLU()]
    layers.append(MaskDropout(0.3, len(layers)))
    layers.append(nn.Linear(256, 128))
    return layers


class Net(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.layers = nn.Sequential(*simplecnn_layers())
        self.head_kind = head
        self.head = nn.Linear(128, 7) if head == "softmax" else ArcFace(128, 7)
        self._drop_idx = [i for i, m in enumerate(self.layers) if isinstance(m, MaskDropout)][0]
        self.layers[self._drop_idx - 2].register_forward_hook(self._keep_pre)

    def _keep_pre(self, module, inputs, output):
        self._pre = output.detach().clone()

    def forward(self, x, labels=None):
        f = self.layers(x)
        return self.head(f) if self.head_kind == "softmax" else self.head(f, labels)

    def use_torch_dropout(self):
        """Replaces fer's seeded mask dropout by torch.nn.Dropout (same p, PyTorch's own draws)."""
        self.layers[self._drop_idx] = nn.Dropout(self.layers[self._drop_idx].p)

    def set_dropout_seed(self, seed):
        for mod in self.layers:
            if isinstance(mod, MaskDropout):
                mod.seed = seed

    def relu_margin(self):
        """Smallest |input| of a unit of the last ReLU that the last training forward's dropout
        mask kept (captured by a hook, so the check itself runs no extra forward)."""
        pre, drop = self._pre, self.layers[self._drop_idx]
        keep = rng_uniform(rng_substream(drop.seed, self._drop_idx), pre.numel()) >= np.float32(
            drop.p)
        return float(pre.reshape(-1)[torch.from_numpy(keep)].abs().min())

    def tensor_table(self):
        """(name, tensor, role, fan_in, layer kind) in the C tensor-table order."""
        out = []
        for i, mod in enumerate(self.layers):
            if isinstance(mod, nn.Conv2d):
                fan = mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
                out.append((f"layers.{i}.weight", mod.weight, "param", fan, "conv"))
            elif isinstance(mod, nn.Linear):
                out.append((f"layers.{i}.weight", mod.weight, "param", mod.in_features, "linear"))
                out.append((f"layers.{i}.bias", mod.bias, "param", mod.in_features, "linear"))
            elif isinstance(mod, nn.BatchNorm2d):
                for nm, t, role in (("weight", mod.weight, "param"), ("bias", mod.bias, "param"),
                                    ("running_mean", mod.running_mean, "buffer"),
                                    ("running_var", mod.running_var, "buffer"),
                                    ("num_batches_tracked", mod.num_batches_tracked, "buffer")):
                    out.append((f"layers.{i}.{nm}", t, role, 0, "bn"))
        out.append(("head.weight", self.head.weight, "param", 128, "head"))
        if self.head_kind == "softmax":
            out.append(("head.bias", self.head.bias, "param", 128, "head"))
        return out

    @torch.no_grad()
    def init_fer(self, seed):
        """fer_model_init(seed): BN affine 1/0, running statistics 0/1; every other tensor t
        uniform within its bound from rng_substream(seed, t) (kaiming-uniform(a=sqrt(5)) bounds,
        xavier for the ArcFace weight)."""
        for t, (name, ten, role, fan, kind) in enumerate(self.tensor_table()):
            leaf = name.rsplit(".", 1)[1]
            if kind == "bn":
                ten.fill_(1.0 if leaf in ("weight", "running_var") else 0.0)
                continue
            if name == "head.weight" and self.head_kind == "arcface":
                bound = np.float32(math.sqrt(6.0 / (128 + 7)))
            else:
                bound = np.float32(1.0 / math.sqrt(fan))
            v = bound * rng_symmetric(rng_substream(seed, t), ten.numel())
            ten.copy_(torch.from_numpy(v.astype(np.float32)).view_as(ten))

    @torch.no_grad()
    def init_like_c(self):
        """fer_model_init(INIT_SEED) followed by the golden BN perturbation of test_golden.c."""
        self.init_fer(INIT_SEED)
        for t, (name, ten, role, fan, kind) in enumerate(self.tensor_table()):
            leaf = name.rsplit(".", 1)[1]
            if kind != "bn" or leaf == "num_batches_tracked":
                continue
            n = ten.numel()
            pert = rng_substream(PERTURB_SEED, t)
            s = rng_symmetric(pert, n)
            if leaf == "weight":
                v = np.float32(1.0) + np.float32(0.25) * s
            elif leaf == "bias":
                v = np.float32(0.25) * s
            elif leaf == "running_mean":
                v = np.float32(0.1) * s
            else:
                v = np.float32(1.0) + np.float32(0.5) * rng_uniform(pert, n)
            ten.copy_(torch.from_numpy(v.astype(np.float32)).view_as(ten))


# ---- fixture writer -------------------------------------------------------------------------
class Fixture:
    def __init__(self):
        self.entries = []

    def add(self, name, arr, sample=True):
        a = np.asarray(arr)
        flat = a.reshape(-1)
        is_int = np.issubdtype(flat.dtype, np.integer)
        vals = flat.astype(np.int32 if is_int else np.float32)
        d = flat.astype(np.float64)
        stride = 1
        if sample and not is_int and vals.size > FULL_MAX:
            stride = vals.size // SAMPLE
            vals = vals[::stride][:SAMPLE]
        self.entries.append((name, 2 if is_int else (1 if stride > 1 else 0), flat.size, stride,
                             vals, float(d.sum()), float(np.abs(d).sum()),
                             float(np.sqrt((d * d).sum()))))

    def write(self, path):
        with open(path + ".tmp", "wb") as f:
            f.write(b"FERGOLD1")
            f.write(struct.pack("<I", len(self.entries)))
            for name, kind, total, stride, vals, s, a, l2 in self.entries:
                nb = name.encode()
                f.write(struct.pack("<I", len(nb)) + nb)
                f.write(struct.pack("<IQQIddd", kind, total, stride, vals.size, s, a, l2))
                f.write(vals.astype("<i4" if kind == 2 else "<f4").tobytes())
        os.replace(path + ".tmp", path)


def t2n(t):
    return t.detach().cpu().numpy()


def class_weights_inv_sqrt():
    counts = torch.tensor(COUNTS, dtype=torch.float32).clamp_min(1.0)
    w = 1.0 / torch.sqrt(counts)
    return w * (len(COUNTS) / w.sum())


def focal_loss(logits, target, gamma, weight):
    lp = F.log_softmax(logits, dim=1)
    factor = torch.pow(1.0 - torch.exp(lp), gamma)
    return F.nll_loss(factor * lp, target, weight=weight)


def make_loss(config, weights):
    if config == "wce":
        return lambda z, y: F.cross_entropy(z, y, weight=weights)
    if config == "focal":
        return lambda z, y: focal_loss(z, y, FOCAL_GAMMA, weights)
    return lambda z, y: F.cross_entropy(z, y)  # ce, and arcface as the seed trains it


def run_config(config, dseed):
    """Returns the fixture and the smallest ReLU margin met on the way."""
    head = "arcface" if config == "arcface" else "softmax"
    x = torch.from_numpy(rng_symmetric(rng_substream(X_SEED, 0), BATCH * 48 * 48)).view(
        BATCH, 1, 48, 48)
    y = torch.tensor(LABELS, dtype=torch.int64)
    weights = class_weights_inv_sqrt()
    loss_fn = make_loss(config, weights)
    fx = Fixture()
    margin = math.inf
    fx.add("dropout_seed0", np.array([dseed], dtype=np.int32))
    fx.add("labels", np.array(LABELS, dtype=np.int32))
    fx.add("counts", np.array(COUNTS, dtype=np.int32))
    fx.add("class_weights", t2n(weights))

    net = Net(head)
    net.init_like_c()
    for name, ten, role, _, _ in net.tensor_table():
        fx.add("init/" + name, t2n(ten).astype(np.float32))

    # eval mode from the initial weights
    net.eval()
    with torch.no_grad():
        z = net(x)
        fx.add("eval/logits", t2n(z))
        fx.add("eval/loss", np.array([loss_fn(z, y).item()], dtype=np.float32))

    # one training forward/backward
    net.train()
    net.set_dropout_seed(dseed)
    z = net(x, y)
    margin = min(margin, net.relu_margin())
    loss = loss_fn(z, y)
    loss.backward()
    fx.add("train/logits", t2n(z))
    fx.add("train/loss", np.array([loss.item()], dtype=np.float32))
    for name, ten, role, _, _ in net.tensor_table():
        if role == "param":
            fx.add("train/grad/" + name, t2n(ten.grad))
        else:
            fx.add("train/" + name, t2n(ten).astype(np.float32))

    # three optimiser steps from the initial weights, with clipping as the seed's train.py
    for opt_name in ("adam", "sgd"):
        net = Net(head)
        net.init_like_c()
        net.train()
        params = [t for _, t, role, _, _ in net.tensor_table() if role == "param"]
        opt = (torch.optim.Adam(params, **ADAM) if opt_name == "adam"
               else torch.optim.SGD(params, **SGD))
        losses, norms = [], []
        for s in range(STEPS):
            net.set_dropout_seed(dseed + s)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x, y), y)
            margin = min(margin, net.relu_margin())
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(params, CLIP)))
            losses.append(loss.item())
            opt.step()
        fx.add(opt_name + "/losses", np.array(losses, dtype=np.float32))
        fx.add(opt_name + "/norms", np.array(norms, dtype=np.float32))
        for name, ten, role, _, _ in net.tensor_table():
            fx.add(f"{opt_name}/{name}", t2n(ten).astype(np.float32))
        net.eval()
        with torch.no_grad():
            fx.add(opt_name + "/eval_logits", t2n(net(x)))
    return fx, margin


def run_losses(outdir):
    """Loss values and logit gradients for every loss flavour on one fixed logit batch."""
    fx = Fixture()
    z0 = torch.from_numpy(np.float32(3.0) * rng_symmetric(rng_substream(X_SEED, 1), 5 * 7)).view(5, 7)
    y = torch.tensor([0, 3, 6, 3, 1])
    w = class_weights_inv_sqrt()
    fx.add("logits", t2n(z0))
    fx.add("labels", t2n(y).astype(np.int32))
    fx.add("class_weights", t2n(w))
    cases = {
        "ce": lambda z: F.cross_entropy(z, y),
        "wce": lambda z: F.cross_entropy(z, y, weight=w),
        "ce_ls0.1": lambda z: F.cross_entropy(z, y, label_smoothing=0.1),
        "wce_ls0.2": lambda z: F.cross_entropy(z, y, weight=w, label_smoothing=0.2),
        "focal_g2": lambda z: focal_loss(z, y, 2.0, None),
        "focal_g2_w": lambda z: focal_loss(z, y, 2.0, w),
        "focal_g0.5_w": lambda z: focal_loss(z, y, 0.5, w),
    }
    for name, fn in cases.items():
        z = z0.clone().requires_grad_(True)
        loss = fn(z)
        loss.backward()
        fx.add(name + "/loss", np.array([loss.item()], dtype=np.float32))
        fx.add(name + "/dlogits", t2n(z.grad))
    fx.write(os.path.join(outdir, "golden_losses.bin"))


def run_optim(outdir):
    """Every optimiser flavour on a 1000-element parameter with 4 fixed gradient steps."""
    fx = Fixture()
    n, steps = 1000, 4
    p0 = rng_symmetric(rng_substream(X_SEED, 2), n)
    grads = [np.float32(0.1 * (k + 1)) * rng_symmetric(rng_substream(X_SEED, 10 + k), n)
             for k in range(steps)]
    fx.add("p0", p0)
    for k, g in enumerate(grads):
        fx.add(f"grad{k}", g)
    cases = {
        "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
        "adam_wd": lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.8, 0.99), eps=1e-6,
                                              weight_decay=0.1),
        "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.05),
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
        "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.3,
                                                  weight_decay=1e-2),
        "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                                  weight_decay=5e-4),
    }
    for name, make in cases.items():
        p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
        opt = make([p])
        for g in grads:
            p.grad = torch.from_numpy(g.copy())
            opt.step()
        fx.add(name, t2n(p))
    fx.write(os.path.join(outdir, "golden_optim.bin"))


def run_schedules(outdir):
    """Learning rates per epoch from torch's schedulers (stepped once per epoch)."""
    fx = Fixture()
    epochs = 30

    def lrs(make, metrics=None):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=1e-3)
        sch = make(opt)
        out = []
        for e in range(epochs):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            if metrics is None:
                sch.step()
            else:
                sch.step(metrics[e])
        return np.array(out, dtype=np.float32)

    fx.add("cosine", lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=epochs)))
    fx.add("step", lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)))
    metric = np.array([0.30, 0.35, 0.40, 0.40, 0.41, 0.41, 0.41, 0.41, 0.405, 0.40, 0.44, 0.44,
                       0.44, 0.44, 0.44, 0.44, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50,
                       0.50, 0.50, 0.50, 0.50, 0.50, 0.50], dtype=np.float32)
    fx.add("plateau_metric", metric)
    fx.add("plateau", lrs(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
        o, mode="max", factor=0.5, patience=2, threshold=1e-2), [float(m) for m in metric]))
    fx.write(os.path.join(outdir, "golden_sched.bin"))


def run_init(outdir):
    """PyTorch's default initial weights, for fer_model_init_pytorch: the softmax SimpleCNN
    right after torch.manual_seed(40), and the ArcFace one after torch.manual_seed(7) with its
    head drawn as the seed project's ArcFaceHead (torch.randn, then xavier_uniform_)."""
    fx = Fixture()
    for head, seed in (("softmax", 40), ("arcface", 7)):
        torch.manual_seed(seed)
        net = Net(head)
        if head == "arcface":
            w = torch.randn(7, 128)
            nn.init.xavier_uniform_(w)
            net.head.weight.data.copy_(w)
        for name, ten, role, _, _ in net.tensor_table():
            if role == "param":
                fx.add(f"{head}/{name}", t2n(ten))
    fx.write(os.path.join(outdir, "golden_init.bin"))


# ---- grouped and depthwise convolutions ------------------------------------------------------
GROUP_SEED = 11       # torch.manual_seed before building the net = fer_model_init_pytorch seed
GROUP_BATCH = 3
GROUP_INPUT = (4, 10, 9)
GROUP_LABELS = [2, 0, 1]


def group_net():
    """conv(groups 2) -> depthwise stride 2 -> depthwise 5x5 with multiplier 2 -> 1x1 groups 2;
    the architecture of test_golden.c's GROUPCONV_ARCH, layer for layer."""
    layers = nn.Sequential(
        nn.Conv2d(4, 6, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6, bias=False), nn.ReLU(),
        nn.Conv2d(6, 12, 5, padding=2, groups=6),
        nn.Conv2d(12, 4, 1, groups=2),
        nn.Flatten(), nn.Linear(4 * 5 * 5, 5))
    return layers, nn.Linear(5, 3)


def run_groupconv(outdir):
    """PyTorch's initial weights for GROUP_SEED (fer_model_init_pytorch must give them bit for
    bit), then one training forward/backward from them: logits, cross-entropy loss, every
    parameter gradient."""
    torch.manual_seed(GROUP_SEED)
    layers, head = group_net()
    named = [(f"layers.{n}", t) for n, t in layers.named_parameters()]
    named += [(f"head.{n}", t) for n, t in head.named_parameters()]
    c, h, w = GROUP_INPUT
    x = torch.from_numpy(rng_symmetric(rng_substream(X_SEED, 1), GROUP_BATCH * c * h * w)).view(
        GROUP_BATCH, c, h, w)
    y = torch.tensor(GROUP_LABELS, dtype=torch.int64)
    fx = Fixture()
    fx.add("labels", np.array(GROUP_LABELS, dtype=np.int32))
    for name, t in named:
        fx.add("init/" + name, t2n(t))
    logits = head(layers(x))
    loss = F.cross_entropy(logits, y)
    loss.backward()
    fx.add("train/logits", t2n(logits))
    fx.add("train/loss", np.array([loss.item()], dtype=np.float32))
    for name, t in named:
        fx.add("train/grad/" + name, t2n(t.grad))
    fx.write(os.path.join(outdir, "golden_groupconv.bin"))


# ---- activations and average pools on their own ---------------------------------------------
OPS_SHAPE = (3, 5, 7, 6)  # batch 3, odd channels, non-square planes
# exact kinks first: 0, -0, +-3, +-6 and their float neighbours
OPS_KINKS = [0.0, -0.0, 3.0, -3.0, 6.0, -6.0, 2.9999998, 3.0000002, -2.9999998, -3.0000002,
             5.9999995, 6.0000005, 1e-30, -1e-30, 20.0, -20.0]


def run_ops(outdir):
    """leaky_relu (two slopes), relu6, hardswish, sigmoid, avgpool2d (with stride and padding
    counted in the divisor) and global average pooling: for a fixed input x and output gradient
    dy, torch's outputs y and input gradients dx (autograd), stored with x and dy."""
    n = int(np.prod(OPS_SHAPE))
    x = np.float32(8.0) * rng_symmetric(rng_substream(X_SEED, 40), n)
    x[:len(OPS_KINKS)] = np.array(OPS_KINKS, dtype=np.float32)
    fx = Fixture()
    fx.add("x", x)
    cases = [
        ("leaky_relu", lambda t: F.leaky_relu(t)),  # default slope 0.01
        ("leaky_relu_0.2", lambda t: F.leaky_relu(t, 0.2)),
        ("relu6", nn.ReLU6()),
        ("hardswish", nn.Hardswish()),
        ("sigmoid", torch.sigmoid),
        ("avgpool_k3_s2_p1", nn.AvgPool2d(3, stride=2, padding=1)),
        ("avgpool_k2_s2", nn.AvgPool2d(2)),
        ("avgpool_k3_s1_p1", nn.AvgPool2d(3, stride=1, padding=1)),
        ("global_avgpool", nn.AdaptiveAvgPool2d(1)),
    ]
    for k, (name, op) in enumerate(cases):
        xt = torch.from_numpy(x.copy()).view(*OPS_SHAPE).requires_grad_(True)
        y = op(xt)
        dy = np.float32(1.0) * rng_symmetric(rng_substream(X_SEED, 50 + k), y.numel())
        y.backward(torch.from_numpy(dy).view(y.shape))
        dx = t2n(xt.grad).reshape(-1).copy()
        if name == "hardswish":
            # torch's CPU kernels disagree at x = 3: the vectorised loop gives dy (x >= 3 -> dy),
            # the scalar loop and the CUDA kernel dy * (3/3 + 1/2) (x <= 3 -> formula). We follow
            # the scalar/CUDA definition; those elements are taken from one-element tensors,
            # which run torch's scalar loop.
            for i in np.flatnonzero(x == np.float32(3.0)):
                xi = torch.tensor([x[i]], requires_grad=True)
                F.hardswish(xi).backward(torch.tensor([dy[i]]))
                dx[i] = xi.grad.item()
        fx.add(name + "/dy", dy)
        fx.add(name + "/y", t2n(y))
        fx.add(name + "/dx", dx)
    fx.write(os.path.join(outdir, "golden_ops.bin"))


# ---- a residual graph network (golden_resnet.json) ------------------------------------------
RESNET_SEED = 9          # torch.manual_seed before building the net and perturbing it
RESNET_BATCH = 3
RESNET_LABELS = [4, 1, 6]
RESNET_X_STREAM = 3      # input batch: rng_substream(X_SEED, RESNET_X_STREAM)
RESNET_ADAM = dict(lr=1e-3)
RESNET_MARGIN = 1e-4     # minimum distance of an activation's input from its kinks
# kinks of the piecewise activations (prelu/relu/leaky_relu at 0, relu6 also at 6, hardswish +-3)
RESNET_KINKS = {nn.ReLU: (0.0,), nn.LeakyReLU: (0.0,), nn.PReLU: (0.0,), nn.ReLU6: (0.0, 6.0),
                nn.Hardswish: (-3.0, 3.0)}


def resnet_arch():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_resnet.json")) as f:
        return json.load(f)


def bias_before_batchnorm(arch, net):
    """Nodes whose bias feeds only batch norms: in training mode the norm removes the bias, so its
    gradient is zero up to rounding (noise that Adam turns into full-size steps)."""
    consumers = {}
    for i, src in enumerate(net.sources):
        for s in src:
            consumers.setdefault(s, []).append(i)
    out = []
    for i, node in enumerate(arch["layers"]):
        users = consumers.get(i, [])
        if (node["type"] in ("linear", "conv2d") and node.get("bias", True) and users
                and all(arch["layers"][u]["type"].startswith("batchnorm") for u in users)):
            out.append(i)
    return out


def run_resnet(outdir):
    """golden_resnet.json (residual add, channel padding, squeeze-excitation gate, concat,
    prelu, batchnorm1d): PyTorch's initial weights for RESNET_SEED with the batch norms' affine
    and running statistics moved away from 1/0 and the prelu slopes away from 0.25, all stored;
    one training forward/backward (logits, cross-entropy, every gradient); then 3 Adam steps on
    the same batch (lr 1e-3, torch's defaults otherwise, no clipping): the weights and batch-norm
    buffers after them. A bias that feeds only a batch norm (bias_before_batchnorm, -1 ends the
    list) has a gradient of rounding noise, which Adam turns into +-lr steps of random sign; its
    value after every step is stored (adam_step<k>/...) so the C test can follow torch's path
    instead of its own noise (the norm's running mean depends on it). The smallest distance of an activation's input from its kinks over the
    three training forwards must stay above RESNET_MARGIN, so float rounding cannot flip one."""
    arch = resnet_arch()
    torch.manual_seed(RESNET_SEED)
    net = torch_arch.build(arch)
    with torch.no_grad():
        for mod in net.layers:
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = mod.num_features
                mod.weight.copy_(1.0 + 0.25 * (2 * torch.rand(n) - 1))
                mod.bias.copy_(0.25 * (2 * torch.rand(n) - 1))
                mod.running_mean.copy_(0.1 * (2 * torch.rand(n) - 1))
                mod.running_var.copy_(1.0 + 0.5 * torch.rand(n))
            elif isinstance(mod, nn.PReLU):
                mod.weight.copy_(0.25 + 0.2 * (2 * torch.rand(mod.weight.numel()) - 1))
    named = list(net.state_dict(keep_vars=True).items())
    params = [t for _, t in named if t.requires_grad]
    c, h, w = arch["input"]
    x = torch.from_numpy(rng_symmetric(rng_substream(X_SEED, RESNET_X_STREAM),
                                       RESNET_BATCH * c * h * w)).view(RESNET_BATCH, c, h, w)
    y = torch.tensor(RESNET_LABELS, dtype=torch.int64)
    margin = [math.inf]

    def kink_distance(module, inputs, output):
        v = inputs[0].detach()
        for k in RESNET_KINKS[type(module)]:
            margin[0] = min(margin[0], float((v - k).abs().min()))

    for mod in net.layers:
        if type(mod) in RESNET_KINKS:
            mod.register_forward_hook(kink_distance)
    fx = Fixture()
    fx.add("labels", np.array(RESNET_LABELS, dtype=np.int32))
    pinned = bias_before_batchnorm(arch, net)
    fx.add("bias_before_batchnorm", np.array(pinned + [-1], dtype=np.int32))
    for name, t in named:
        fx.add("init/" + name, t2n(t).astype(np.float32))
    net.train()
    opt = torch.optim.Adam(params, **RESNET_ADAM)
    for step in range(STEPS):
        opt.zero_grad(set_to_none=True)
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if step == 0:
            fx.add("train/logits", t2n(logits))
            fx.add("train/loss", np.array([loss.item()], dtype=np.float32))
            for name, t in named:
                if t.requires_grad:
                    fx.add("train/grad/" + name, t2n(t.grad))
        opt.step()
        for i in pinned:  # the bias's trajectory, for the C test to follow
            fx.add(f"adam_step{step + 1}/layers.{i}.bias", t2n(net.layers[i].bias))
    for name, t in named:
        fx.add("adam3/" + name, t2n(t).astype(np.float32))
    print(f"golden_resnet: smallest distance of an activation input from a kink {margin[0]:.3g}")
    if margin[0] < RESNET_MARGIN:
        sys.exit("golden_resnet: an activation input is within %g of a kink; pick another "
                 "RESNET_SEED" % RESNET_MARGIN)
    fx.write(os.path.join(outdir, "golden_resnet.bin"))


def run_soft(outdir):
    """Soft-target cross-entropy (torch's probability targets) and logit adjustment on a 4 x 7
    logit batch: loss and dlogits. Weighted soft losses divide the summed row losses by the
    batch's sum of sum_j w_j t_j (our definition; PyTorch's weighted CE for one-hot rows, while
    torch's own probability-target mean would divide by the batch size)."""
    fx = Fixture()
    z0 = torch.from_numpy(np.float32(3.0) * rng_symmetric(rng_substream(X_SEED, 2), 4 * 7)).view(4, 7)
    t = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],      # one-hot
                      [0.5, 0.0, 0.0, 0.25, 0.0, 0.25, 0.0],    # mixed
                      [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4],      # FER+-like votes
                      [0.0, 0.7, 0.0, 0.0, 0.3, 0.0, 0.0]])
    y = torch.tensor([2, 0, 6, 1])
    w = class_weights_inv_sqrt()
    prior = torch.tensor(COUNTS, dtype=torch.float32) / sum(COUNTS)
    off = torch.log(prior)  # Balanced Softmax; tau = 1.5 below for a logit-adjusted loss
    fx.add("logits", t2n(z0))
    fx.add("targets", t2n(t))
    fx.add("labels", t2n(y).astype(np.int32))
    fx.add("class_weights", t2n(w))
    fx.add("logit_offset", t2n(off))

    def weighted_soft(z, ls):
        per_row = F.cross_entropy(z, t, weight=w, label_smoothing=ls, reduction="none")
        return per_row.sum() / (t @ w).sum()

    def manual(z, ls, weight):  # the formula of loss_math.h, to cross-check torch's smoothing
        ts = t * (1 - ls) + ls / 7
        wv = weight if weight is not None else torch.ones(7)
        return -(wv * ts * F.log_softmax(z, dim=1)).sum() / (t @ wv).sum()

    cases = {
        "soft": lambda z: F.cross_entropy(z, t),
        "soft_ls0.1": lambda z: F.cross_entropy(z, t, label_smoothing=0.1),
        "soft_w": lambda z: weighted_soft(z, 0.0),
        "soft_w_ls0.2": lambda z: weighted_soft(z, 0.2),
        "soft_off": lambda z: F.cross_entropy(z + off, t),
        "soft_w_ls0.1_off1.5": lambda z: weighted_soft(z + 1.5 * off, 0.1),
        "label_off": lambda z: F.cross_entropy(z + off, y),
        "label_w_ls0.1_off1.5": lambda z: F.cross_entropy(z + 1.5 * off, y, weight=w,
                                                          label_smoothing=0.1),
    }
    checks = {"soft_ls0.1": (0.1, None), "soft_w_ls0.2": (0.2, w)}
    for name, fn in cases.items():
        z = z0.clone().requires_grad_(True)
        loss = fn(z)
        loss.backward()
        if name in checks:
            ref = manual(z0, *checks[name]).item()
            assert abs(ref - loss.item()) <= 1e-6 * abs(ref), (name, ref, loss.item())
        fx.add(name + "/loss", np.array([loss.item()], dtype=np.float32))
        fx.add(name + "/dlogits", t2n(z.grad))
    fx.write(os.path.join(outdir, "golden_soft.bin"))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.set_num_threads(1)
    torch.manual_seed(0)
    for dseed in range(DROPOUT_SEED0, DROPOUT_SEED0 + 50):
        results = {c: run_config(c, dseed) for c in ("ce", "wce", "focal", "arcface")}
        worst = min(m for _, m in results.values())
        print(f"dropout seed {dseed}: smallest ReLU margin {worst:.3g}")
        if worst >= MARGIN:
            break
    else:
        sys.exit("no dropout seed gives a ReLU margin of %g" % MARGIN)
    for config, (fx, _) in results.items():
        fx.write(os.path.join(outdir, f"golden_{config}.bin"))
    run_losses(outdir)
    run_optim(outdir)
    run_schedules(outdir)
    run_init(outdir)
    run_ops(outdir)
    run_groupconv(outdir)
    run_resnet(outdir)
    run_soft(outdir)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] == "resnet":  # that fixture alone
        torch.set_num_threads(1)
        run_resnet(sys.argv[1])
    elif len(sys.argv) > 2 and sys.argv[2] == "soft":  # golden_soft.bin alone
        torch.set_num_threads(1)
        run_soft(sys.argv[1])
    else:
        main()
