#!/usr/bin/python3
"""A torch.nn.Module built from one of fer's architecture JSON dicts (see model/include/fer/arch.h).

Used by bench/torch_ref.py (--arch-json) and tests/golden/make_golden.py. Both the sequential form
(simplecnn: no "name"/"inputs") and the graph form are accepted: a node may carry "name" and
"inputs" (names of earlier nodes; the network input is "input"); a node without "inputs" takes
the previous node (node 0 takes the input). The last node is the feature vector that feeds the
head, nn.Linear(features, classes) (softmax head; an arcface head is refused).

The module's `layers` is a ModuleList whose index i is node i, so the state_dict names are fer's
tensor names: layers.<i>.weight / bias / running_mean / running_var / num_batches_tracked, then
head.weight, head.bias. Parameterless nodes get a parameterless module so the indices line up.

    net = build(arch_dict)                       # or build(arch_dict, channels_last=True)
    logits = net(x)                              # x: [N, C, H, W]

channels_last=True keeps the image tensors in channels_last memory inside the graph (the
channel padding and the gate broadcast would otherwise hand back NCHW tensors); the caller still
moves the module and its input with .to(memory_format=torch.channels_last).
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F


class Add(nn.Module):
    def forward(self, a, b):
        return a + b


class Concat(nn.Module):
    """Channel concatenation (dim 1: channels of an image, features of a flat vector)."""

    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class Mul(nn.Module):
    """x * gate, the gate either x's shape or C values per sample ([N, C] or [N, C, 1, 1])
    broadcast over the plane (squeeze-excitation)."""

    def __init__(self, channels_last):
        super().__init__()
        self.channels_last = channels_last

    def forward(self, x, gate):
        if x.dim() == 4 and gate.shape != x.shape:
            gate = gate.reshape(gate.shape[0], -1, 1, 1)
        y = x * gate
        if self.channels_last and y.dim() == 4:
            y = y.contiguous(memory_format=torch.channels_last)
        return y


class ChannelPad(nn.Module):
    """Zero channels appended at the end up to `out`."""

    def __init__(self, extra, channels_last):
        super().__init__()
        self.extra, self.channels_last = extra, channels_last

    def forward(self, x):
        pad = (0, 0, 0, 0, 0, self.extra) if x.dim() == 4 else (0, self.extra)
        y = F.pad(x, pad)
        if self.channels_last and y.dim() == 4:
            y = y.contiguous(memory_format=torch.channels_last)
        return y


class FlatLinear(nn.Linear):
    """nn.Linear on every value of a sample (fer's linear takes an image input as its flat
    vector)."""

    def forward(self, x):
        return super().forward(x.flatten(1))


class FlatBatchNorm1d(nn.BatchNorm1d):
    def forward(self, x):
        return super().forward(x.flatten(1))


def _int(node, key, default):
    v = node.get(key, default)
    return int(v)


def _flat(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _node_module(node, in_shapes, channels_last):
    """(module, output shape) of one node; shapes are (C, H, W) for images, (F,) for vectors."""
    kind = node["type"]
    shape = in_shapes[0]
    image = len(shape) == 3
    if kind == "conv2d":
        out, k = _int(node, "out", 0), _int(node, "k", 3)
        stride, pad = _int(node, "stride", 1), _int(node, "pad", 0)
        groups = _int(node, "groups", 1)
        mod = nn.Conv2d(shape[0], out, k, stride=stride, padding=pad, groups=groups,
                        bias=bool(node.get("bias", True)))
        return mod, (out, (shape[1] + 2 * pad - k) // stride + 1,
                     (shape[2] + 2 * pad - k) // stride + 1)
    if kind == "batchnorm2d":
        return nn.BatchNorm2d(shape[0], eps=1e-5, momentum=0.1), shape
    if kind == "batchnorm1d":
        return FlatBatchNorm1d(_flat(shape), eps=1e-5, momentum=0.1), (_flat(shape),)
    if kind == "maxpool2d" or kind == "avgpool2d":
        k = _int(node, "k", 2)
        stride = _int(node, "stride", k)
        pad = _int(node, "pad", 0) if kind == "avgpool2d" else 0
        mod = (nn.MaxPool2d(k, stride) if kind == "maxpool2d"
               else nn.AvgPool2d(k, stride, padding=pad, count_include_pad=True))
        return mod, (shape[0], (shape[1] + 2 * pad - k) // stride + 1,
                     (shape[2] + 2 * pad - k) // stride + 1)
    if kind == "global_avgpool":
        return nn.AdaptiveAvgPool2d(1), (shape[0], 1, 1)
    if kind == "flatten":
        return nn.Flatten(), (_flat(shape),)
    if kind == "linear":
        out = _int(node, "out", 0)
        return FlatLinear(_flat(shape), out, bias=bool(node.get("bias", True))), (out,)
    if kind == "dropout":
        return nn.Dropout(float(node.get("p", 0.5))), shape
    if kind == "relu":
        return nn.ReLU(), shape
    if kind == "leaky_relu":
        return nn.LeakyReLU(float(node.get("slope", 0.01))), shape
    if kind == "relu6":
        return nn.ReLU6(), shape
    if kind == "hardswish":
        return nn.Hardswish(), shape
    if kind == "sigmoid":
        return nn.Sigmoid(), shape
    if kind == "prelu":
        return nn.PReLU(shape[0] if image else _flat(shape), init=0.25), shape
    if kind == "add":
        if len(in_shapes) != 2 or in_shapes[0] != in_shapes[1]:
            raise ValueError(f"add needs 2 inputs of one shape, got {in_shapes}")
        return Add(), shape
    if kind == "concat":
        if not 2 <= len(in_shapes) <= 8 or any(s[1:] != shape[1:] for s in in_shapes):
            raise ValueError(f"concat needs 2..8 inputs with the same plane, got {in_shapes}")
        return Concat(), (sum(s[0] for s in in_shapes),) + tuple(shape[1:])
    if kind == "mul":
        if len(in_shapes) != 2:
            raise ValueError(f"mul needs 2 inputs, got {in_shapes}")
        return Mul(channels_last), shape
    if kind == "channel_pad":
        out = _int(node, "out", 0)
        if out < shape[0]:
            raise ValueError(f"channel_pad out {out} below its {shape[0]} input channels")
        return ChannelPad(out - shape[0], channels_last), (out,) + tuple(shape[1:])
    raise ValueError(f"unknown layer type {kind!r}")


class ArchNet(nn.Module):
    def __init__(self, arch, channels_last=False):
        super().__init__()
        head = arch.get("head", {"type": "softmax"})
        if head.get("type", "softmax") != "softmax":
            raise ValueError("torch_arch builds the softmax head only")
        c, h, w = arch.get("input", [1, 48, 48])
        nodes = arch["layers"]
        index = {"input": -1}
        shapes = {-1: (c, h, w)}
        self.sources = []  # per node: indices of its inputs (-1: the network input)
        mods = []
        for i, node in enumerate(nodes):
            if "inputs" in node:
                src = [index[name] for name in node["inputs"]]  # KeyError: unknown/later node
            else:
                src = [i - 1]
            mod, shapes[i] = _node_module(node, [shapes[s] for s in src], channels_last)
            mods.append(mod)
            self.sources.append(src)
            if "name" in node:
                index[node["name"]] = i
        self.layers = nn.ModuleList(mods)
        self.features = _flat(shapes[len(nodes) - 1])
        self.head = nn.Linear(self.features, int(arch.get("classes", 7)))
        # outputs still needed after node i (for freeing them early in forward)
        self.last_use = {}
        for i, src in enumerate(self.sources):
            for s in src:
                self.last_use[s] = i
        self.channels_last = channels_last

    def forward(self, x):
        outs = {-1: x}
        y = x
        for i, mod in enumerate(self.layers):
            y = mod(*[outs[s] for s in self.sources[i]])
            outs[i] = y
            for s in self.sources[i]:
                if self.last_use[s] == i:
                    outs.pop(s, None)
        return self.head(y.flatten(1))


def build(arch, channels_last=False):
    """arch: a dict (fer's JSON form), or JSON text."""
    if isinstance(arch, str):
        arch = json.loads(arch)
    return ArchNet(arch, channels_last=channels_last)


def load(path, channels_last=False):
    with open(path) as f:
        return build(json.load(f), channels_last=channels_last)
