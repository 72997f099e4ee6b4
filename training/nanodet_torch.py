"""NanoDet-g as a trainable torch module, built from the TF.js graph we already install.

The install step converts `nanodet.json` + `nanodet.bin` (the user cache's `tfjs/` folder) to ONNX
with our own converter (engine/models/install/tfjs_to_onnx.py). Here the same graph is *run* in
torch instead: the weights are decoded by the converter's `read_weights`, shape arithmetic is folded
by its `_fold`, and every remaining op becomes its torch equivalent, with each convolution's filter
and bias a `nn.Parameter`. No new dependency (onnx2torch was not needed).

The graph ends, per stride 8/16/32, in one convolution whose 124 channels are split into 80 class
logits (then sigmoid) and 44 box logits (4 sides x 11 bins, GFL). The graph is cut just before
those three convolutions: `NanoDetTorch` runs the graph up to their input features and owns the
three final layers as plain `nn.Conv2d`, so the class layer can grow (`grow_classes`) to 80 + K
classes without touching the rest. Outputs keep the TF.js layout: cells row by row, stride 8 first.

TF ops are NHWC; the graph wraps every convolution in NCHW<->NHWC transposes (it came from ONNX
through onnx-tf). torch's permute is a view, so a "NHWC" tensor permuted to NCHW is simply a
channels-last tensor and the convolutions run on it without copies.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.models.install import tfjs_to_onnx as T

log = logging.getLogger(__name__)

STRIDES = (8, 16, 32)
REG_MAX = 10
NUM_BINS = REG_MAX + 1
INPUT_SIZE = 416
COCO_CLASSES = 80
MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)


class GraphError(ValueError):
    """The TF.js graph is not the NanoDet layout this module knows; one sentence says where."""


def tfjs_files() -> tuple[Path, Path]:
    """(nanodet.json, nanodet.bin) in the user cache, where `maxsight models fetch` puts them."""
    from engine.models.registry import models_dir
    d = models_dir() / "tfjs"
    return d / "nanodet.json", d / "nanodet.bin"


def _param_name(name: str) -> str:
    return name.replace("/", "__").replace(":", "_").replace(".", "_")


class TfjsGraph(nn.Module):
    """Runs the part of a TF.js graph that `outputs` depend on, in torch. Constants used as
    convolution filters or added to convolution outputs are parameters; everything else that is
    constant is folded once here."""

    def __init__(self, model_json: dict, weights: dict[str, np.ndarray], outputs: list[str]):
        super().__init__()
        nodes = {n["name"]: n for n in model_json["modelTopology"]["node"]}
        needed, stack = set(), [T._split_ref(o)[0] for o in outputs]
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            needed.add(name)
            stack += [T._split_ref(r)[0] for r in nodes[name].get("input", []) if not r.startswith("^")]
        consts = {f"{n}:0": weights[n] for n in needed if nodes[n]["op"] == "Const"}
        order = [n["name"] for n in model_json["modelTopology"]["node"] if n["name"] in needed]   # TF.js stores them topologically
        self.placeholder = None
        self.program: list[tuple[str, str, list[str], dict]] = []   # (op, node name, input refs, static args)
        self.params = nn.ParameterDict()
        self._const_refs: dict[str, np.ndarray] = {}
        learnable = set()
        for name in order:
            node = nodes[name]
            if node["op"] in ("Conv2D", "DepthwiseConv2dNative"):
                learnable.add(T._split_ref(node["input"][1]))
        for name in order:
            node = nodes[name]
            op = node["op"]
            if op == "Const":
                continue
            if op == "Placeholder":
                self.placeholder = name
                continue
            inputs = [r for r in node.get("input", []) if not r.startswith("^")]
            args = [consts.get(f"{n}:{i}") for n, i in map(T._split_ref, inputs)]
            if all(a is not None for a in args):
                folded = T._fold(node, args)
                if folded is not None:
                    for i, v in enumerate(folded):
                        consts[f"{name}:{i}"] = np.asarray(v)
                    continue
            if op in ("Add", "AddV2", "BiasAdd"):
                # a bias after a convolution: learnable
                for r in inputs:
                    n, i = T._split_ref(r)
                    if f"{n}:{i}" in consts and consts[f"{n}:{i}"].dtype == np.float32 and consts[f"{n}:{i}"].ndim == 1:
                        learnable.add((n, i))
            self.program.append((op, name, inputs, self._static(node, inputs, consts)))
        for n, i in sorted(learnable):
            key = f"{n}:{i}"
            if key not in consts:
                raise GraphError(f"{key} should be a constant filter or bias but is computed in the graph")
            self.params[_param_name(key)] = nn.Parameter(torch.from_numpy(np.ascontiguousarray(consts[key], np.float32)))
        self._learnable = {f"{n}:{i}" for n, i in learnable}
        # Other constants the program reads at run time (pad values, shift constants...), as buffers.
        for op, name, inputs, _ in self.program:
            for r in inputs:
                n, i = T._split_ref(r)
                key = f"{n}:{i}"
                if key in consts and key not in self._learnable and _param_name(key) not in self._buffers:
                    v = consts[key]
                    if v.dtype.kind == "f":
                        self.register_buffer(_param_name(key), torch.from_numpy(np.ascontiguousarray(v, np.float32)), persistent=False)
                    else:
                        self._const_refs[key] = v
        if self.placeholder is None:
            raise GraphError("the graph has no input placeholder")
        self.outputs = [f"{T._split_ref(o)[0]}:{T._split_ref(o)[1]}" for o in outputs]
        unknown = sorted({op for op, *_ in self.program} - set(_OPS))
        if unknown:
            raise GraphError(f"the graph uses operation(s) the torch runner does not support: {', '.join(unknown)}")

    @staticmethod
    def _static(node: dict, inputs: list[str], consts: dict) -> dict:
        """Attributes and constant inputs an op needs, read once."""
        op = node["op"]
        c = lambda k: consts.get("%s:%d" % T._split_ref(inputs[k]))
        if op in ("Conv2D", "DepthwiseConv2dNative"):
            T._check_nhwc(node)
            pad = T._attr_str(node, "padding", "VALID")
            if pad not in ("VALID", "SAME"):
                raise GraphError(f"{node['name']}: padding {pad} is not supported")
            return {"strides": T._attr_list_ints(node, "strides", [1, 1, 1, 1])[1:3],
                    "dilations": (T._attr_list_ints(node, "dilations", [1, 1, 1, 1]) or [1, 1, 1, 1])[1:3], "padding": pad}
        if op == "LeakyRelu":
            return {"alpha": T._attr_float(node, "alpha", 0.2)}
        if op == "Transpose":
            return {"perm": [int(p) for p in c(1)]}
        if op in ("Pad", "PadV2"):
            p = c(1).astype(np.int64)
            value = float(np.asarray(c(2)).reshape(())) if op == "PadV2" else 0.0
            return {"pads": p, "value": value}
        if op == "MaxPool":
            T._check_nhwc(node)
            return {"k": T._attr_list_ints(node, "ksize")[1:3], "s": T._attr_list_ints(node, "strides")[1:3],
                    "padding": T._attr_str(node, "padding", "VALID")}
        if op == "ConcatV2":
            return {"axis": int(c(len(inputs) - 1))}
        if op == "ResizeBilinear":
            if T._attr_bool(node, "align_corners"):
                mode = "align_corners"
            elif T._attr_bool(node, "half_pixel_centers"):
                mode = "half_pixel"
            else:
                raise GraphError(f"{node['name']}: ResizeBilinear without half-pixel centres is not supported")
            return {"size": [int(v) for v in c(1)], "mode": mode}
        if op == "Reshape":
            return {"shape": [int(v) for v in c(1).ravel()]}
        if op == "SplitV":
            return {"sizes": [int(v) for v in c(1)], "axis": int(c(2))}
        return {}

    def _value(self, env: dict, ref: str):
        n, i = T._split_ref(ref)
        key = f"{n}:{i}"
        if key in env:
            return env[key]
        pk = _param_name(key)
        if pk in self.params:
            return self.params[pk]
        if pk in self._buffers:
            return self._buffers[pk]
        if key in self._const_refs:
            return self._const_refs[key]
        raise GraphError(f"{key} has no value (the graph is not in topological order?)")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        env = {f"{self.placeholder}:0": x}
        for op, name, inputs, st in self.program:
            args = [self._value(env, r) for r in inputs]
            out = _OPS[op](args, st)
            if isinstance(out, (list, tuple)):
                for i, v in enumerate(out):
                    env[f"{name}:{i}"] = v
            else:
                env[f"{name}:0"] = out
        return [env[o] for o in self.outputs]


def _conv(args, st, depthwise=False):
    x, w = args[0], args[1]                                  # x NHWC, w HWIO (or HW C mult)
    kh, kw = w.shape[0], w.shape[1]
    if depthwise:
        cin, mult = w.shape[2], w.shape[3]
        wt = w.permute(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
        groups = cin
    else:
        wt = w.permute(3, 2, 0, 1)
        groups = 1
    xc = x.permute(0, 3, 1, 2)                               # NCHW view (channels-last memory)
    if st["padding"] == "SAME":
        h, wd = xc.shape[2], xc.shape[3]
        s, d = st["strides"], st["dilations"]
        ph = max((math.ceil(h / s[0]) - 1) * s[0] + (kh - 1) * d[0] + 1 - h, 0)
        pw = max((math.ceil(wd / s[1]) - 1) * s[1] + (kw - 1) * d[1] + 1 - wd, 0)
        xc = F.pad(xc, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
    y = F.conv2d(xc, wt, None, st["strides"], 0, st["dilations"], groups)
    return y.permute(0, 2, 3, 1)


def _pad(args, st):
    p = st["pads"]                                            # [[before, after]] per dim, rank 4
    flat = []
    for before, after in reversed(p.tolist()):
        flat += [int(before), int(after)]
    return F.pad(args[0], flat, value=st["value"])


def _maxpool(args, st):
    x = args[0].permute(0, 3, 1, 2)
    if st["padding"] == "SAME":
        raise GraphError("MaxPool with SAME padding is not supported")
    return F.max_pool2d(x, st["k"], st["s"]).permute(0, 2, 3, 1)


def _resize(args, st):
    x = args[0].permute(0, 3, 1, 2)
    y = F.interpolate(x, size=st["size"], mode="bilinear", align_corners=st["mode"] == "align_corners")
    return y.permute(0, 2, 3, 1)


def _reshape(args, st):
    shape = list(st["shape"])
    if shape and shape[0] == 1:                              # the graph fixes batch 1; run any batch
        shape[0] = args[0].shape[0]
    return args[0].reshape(shape)


def _split(args, st):
    sizes = list(st["sizes"])
    axis = st["axis"] % args[0].dim()
    if -1 in sizes:
        sizes[sizes.index(-1)] = args[0].shape[axis] - (sum(sizes) + 1)
    return list(torch.split(args[0], sizes, dim=axis))


def _t(v, like):
    return v if isinstance(v, torch.Tensor) else torch.as_tensor(v, dtype=like.dtype, device=like.device)


def _binary(fn):
    def run(args, st):
        a, b = args
        like = a if isinstance(a, torch.Tensor) else b
        return fn(_t(a, like), _t(b, like))
    return run


_OPS = {
    "Conv2D": lambda a, st: _conv(a, st),
    "DepthwiseConv2dNative": lambda a, st: _conv(a, st, depthwise=True),
    "Add": _binary(torch.add), "AddV2": _binary(torch.add), "BiasAdd": _binary(torch.add),
    "Sub": _binary(torch.sub), "Mul": _binary(torch.mul), "RealDiv": _binary(torch.div),
    "Maximum": _binary(torch.maximum), "Minimum": _binary(torch.minimum),
    "Relu": lambda a, st: F.relu(a[0]),
    "Relu6": lambda a, st: F.relu6(a[0]),
    "LeakyRelu": lambda a, st: F.leaky_relu(a[0], st["alpha"]),
    "Sigmoid": lambda a, st: torch.sigmoid(a[0]),
    "Identity": lambda a, st: a[0],
    "Transpose": lambda a, st: a[0].permute(*st["perm"]),
    "Pad": _pad, "PadV2": _pad,
    "MaxPool": _maxpool,
    "ConcatV2": lambda a, st: torch.cat(a[:-1], dim=st["axis"] % a[0].dim()),
    "ResizeBilinear": _resize,
    "Reshape": _reshape,
    "SplitV": _split,
}


def _head_convs(model_json: dict) -> list[dict]:
    """The three final convolutions, stride 8 first: {conv, feature ref, bias const, cls, reg}.
    Each SplitV [80, 44] reads (through Transpose/Identity) an Add of a Conv2D and a constant bias."""
    nodes = {n["name"]: n for n in model_json["modelTopology"]["node"]}
    found = []
    for n in nodes.values():
        if n["op"] != "SplitV":
            continue
        src = nodes[T._split_ref(n["input"][0])[0]]
        while src["op"] in ("Transpose", "Identity"):
            src = nodes[T._split_ref(src["input"][0])[0]]
        if src["op"] not in ("Add", "AddV2", "BiasAdd"):
            raise GraphError(f"the head split {n['name']} does not read a convolution plus bias")
        a, b = (nodes[T._split_ref(r)[0]] for r in src["input"][:2])
        conv, bias = (a, b) if a["op"] == "Conv2D" else (b, a)
        if conv["op"] != "Conv2D" or bias["op"] != "Const":
            raise GraphError(f"the head {src['name']} is not Conv2D + constant bias")
        found.append({"conv": conv, "feature": conv["input"][0], "filter": T._split_ref(conv["input"][1])[0],
                      "bias": bias["name"], "split": n["name"]})
    if len(found) != len(STRIDES):
        raise GraphError(f"expected {len(STRIDES)} detection heads (SplitV nodes), found {len(found)}")
    return found


class NanoDetTorch(nn.Module):
    """NanoDet-g in torch. forward(x [B, 3, 416, 416], BGR mean/std normalised) ->
    {"cls": [B, L, C] class logits (sigmoid gives NanoDet's scores), "reg": [B, L, 44] box bin logits},
    L = 52*52 + 26*26 + 13*13 = 3549 cells, stride 8 first, row by row; C = 80 (+ grown classes)."""

    def __init__(self, model_json: dict, weights: dict[str, np.ndarray]):
        super().__init__()
        heads = _head_convs(model_json)
        self.body = TfjsGraph(model_json, weights, [h["feature"] for h in heads])
        shapes = []
        self.heads = nn.ModuleList()
        for h in heads:
            st = TfjsGraph._static(h["conv"], h["conv"]["input"], {})
            w = weights[h["filter"]]                           # [kh, kw, Cin, 124] HWIO
            if st["padding"] != "VALID" or st["strides"] != [1, 1]:
                raise GraphError(f"head convolution {h['conv']['name']} is not a stride-1 VALID convolution")
            conv = nn.Conv2d(w.shape[2], w.shape[3], (w.shape[0], w.shape[1]))
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))))
                conv.bias.copy_(torch.from_numpy(weights[h["bias"]].astype(np.float32)))
            self.heads.append(conv)
            shapes.append(w.shape[3])
        if any(s != COCO_CLASSES + 4 * NUM_BINS for s in shapes):
            raise GraphError(f"head convolutions give {shapes} channels, expected {COCO_CLASSES + 4 * NUM_BINS} (80 classes + 44 box bins)")
        self.num_classes = COCO_CLASSES
        self._order: list[int] | None = None                  # heads sorted by feature size, set on first run

    @staticmethod
    def from_files(model_json_path: Path | None = None) -> "NanoDetTorch":
        path = Path(model_json_path) if model_json_path else tfjs_files()[0]
        if not path.is_file():
            raise FileNotFoundError(f"the NanoDet TF.js graph {path} is not installed; run `maxsight models fetch`")
        mj = json.loads(path.read_text())
        return NanoDetTorch(mj, T.read_weights(mj, path.parent))

    def grow_classes(self, k: int, prior: float = 0.01, std: float = 0.01, seed: int = 0) -> None:
        """Add k class rows after the existing ones in each head; the old class and box rows keep
        their weights exactly (so old outputs are unchanged), new rows start at score `prior`."""
        if k <= 0:
            return
        g = torch.Generator().manual_seed(seed)
        for i, conv in enumerate(self.heads):
            c_old = self.num_classes
            w, b = conv.weight.data, conv.bias.data
            new = nn.Conv2d(conv.in_channels, conv.out_channels + k, conv.kernel_size).to(w.device)
            with torch.no_grad():
                new.weight[:c_old] = w[:c_old]
                new.weight[c_old:c_old + k] = torch.randn((k, *w.shape[1:]), generator=g).to(w) * std
                new.weight[c_old + k:] = w[c_old:]
                new.bias[:c_old] = b[:c_old]
                new.bias[c_old:c_old + k] = -math.log((1 - prior) / prior)
                new.bias[c_old + k:] = b[c_old:]
            self.heads[i] = new
        self.num_classes += k

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        assert x.dim() == 4 and x.shape[1] == 3, f"NanoDet input must be [B, 3, H, W], got {tuple(x.shape)}"
        feats = self.body(x)                                    # NHWC per head
        outs = []
        for conv, f in zip(self.heads, feats):
            y = conv(f.permute(0, 3, 1, 2))                     # [B, C + 44, g, g]
            outs.append(y.flatten(2).transpose(1, 2))           # [B, g*g, C + 44]
        # Stride 8 (the largest grid) first.
        order = sorted(range(len(outs)), key=lambda i: -outs[i].shape[1])
        out = torch.cat([outs[i] for i in order], 1)            # [B, L, C + 44]
        c = self.num_classes
        return {"cls": out[..., :c], "reg": out[..., c:]}


def cells(input_size: int = INPUT_SIZE, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(centres [L, 2] in input pixels, stride [L]) of every output cell, stride 8 first."""
    cs, ss = [], []
    for s in STRIDES:
        g = input_size // s
        r = (torch.arange(g, dtype=torch.float32, device=device) + 0.5) * s
        y, x = torch.meshgrid(r, r, indexing="ij")
        cs.append(torch.stack([x.reshape(-1), y.reshape(-1)], 1))
        ss.append(torch.full((g * g,), float(s), device=device))
    return torch.cat(cs), torch.cat(ss)


def distances(reg: torch.Tensor) -> torch.Tensor:
    """[..., 44] bin logits -> [..., 4] expected distances l, t, r, b in strides (GFL integral)."""
    p = reg.reshape(*reg.shape[:-1], 4, NUM_BINS).softmax(-1)
    return p @ torch.arange(NUM_BINS, dtype=p.dtype, device=p.device)


def decode_boxes(reg: torch.Tensor, centres: torch.Tensor, stride: torch.Tensor) -> torch.Tensor:
    """[B, L, 44] -> [B, L, 4] x1 y1 x2 y2 in input pixels."""
    d = distances(reg) * stride[:, None]
    return torch.cat([centres - d[..., :2], centres + d[..., 2:]], -1)


def preprocess(image_bgr: np.ndarray, size: int = INPUT_SIZE):
    """(x [1, 3, S, S] float32, letterbox) exactly as engine/models/detectors/nanodet.py does."""
    from engine.models.boxes import letterbox
    canvas, lb = letterbox(image_bgr, size)
    x = (canvas.astype(np.float32) - np.array(MEAN_BGR, np.float32)) / np.array(STD_BGR, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), lb


def normalise(batch_bgr: torch.Tensor) -> torch.Tensor:
    """[B, 3, S, S] uint8/float BGR 0..255 -> NanoDet's input."""
    mean = torch.tensor(MEAN_BGR, device=batch_bgr.device).view(1, 3, 1, 1)
    std = torch.tensor(STD_BGR, device=batch_bgr.device).view(1, 3, 1, 1)
    return (batch_bgr.float() - mean) / std
