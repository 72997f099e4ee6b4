"""Convert a TensorFlow.js graph model (model.json + weight shards) into an ONNX model.

Why our own converter: the only offline COCO detectors ship as TF.js graph models inside an npm
package, and `tensorflowjs` + `tf2onnx` would pull all of TensorFlow into the install. The op set
these graphs use is small, so we translate it directly.

How it works:
  1. weights are decoded from the binary shards (float16 and affine uint8/uint16 quantisation too);
  2. only nodes the requested outputs depend on are kept (CenterNet's in-graph top-k decoder,
     for example, is dropped: we decode its heatmap ourselves);
  3. every node whose inputs are all constants is evaluated here in numpy (shape arithmetic such
     as SparseToDense -> AddV2 -> Reshape target), so ONNX only sees tensor maths on the input;
  4. TF ops are NHWC; each spatial op is wrapped in Transpose nodes to ONNX's NCHW and ONNX
     Runtime's transpose optimiser cancels the pairs.
An op we do not know raises UnsupportedOpError naming it, never a half-built model.
"""
from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

log = logging.getLogger(__name__)

OPSET = 17
# Bump when the emitted graphs change, so installed models are converted again.
CONVERTER_VERSION = 2
_NHWC_TO_NCHW = [0, 3, 1, 2]
_NCHW_TO_NHWC = [0, 2, 3, 1]

_TF_DTYPES = {
    "DT_FLOAT": np.float32,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_BOOL": np.bool_,
}
_MANIFEST_DTYPES = {
    "float32": np.float32,
    "int32": np.int32,
    "bool": np.bool_,
    "float16": np.float16,
    "uint8": np.uint8,
    "uint16": np.uint16,
}


class ConversionError(ValueError):
    """The graph cannot be converted; the message says why in one sentence."""


class UnsupportedOpError(ConversionError):
    pass


@dataclass(frozen=True)
class ConvertedModel:
    model: onnx.ModelProto
    input_name: str
    input_shape: tuple[int, ...]
    output_names: tuple[str, ...]


def read_weights(model_json: dict, weights_dir: Path) -> dict[str, np.ndarray]:
    """Decode every weight listed in the manifest, in manifest order, from the shard files."""
    weights: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        blob = b"".join((weights_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(s) for s in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            stored = quant["dtype"] if quant else spec["dtype"]
            if stored not in _MANIFEST_DTYPES:
                raise ConversionError(f"weight {spec['name']!r} is stored as {stored}, which the converter does not read")
            np_dtype = np.dtype(_MANIFEST_DTYPES[stored])
            nbytes = count * np_dtype.itemsize
            if offset + nbytes > len(blob):
                raise ConversionError(f"the weight file is shorter than its manifest says (at weight {spec['name']!r})")
            raw = np.frombuffer(blob, dtype=np_dtype, count=count, offset=offset)
            offset += nbytes
            target = np.dtype(_MANIFEST_DTYPES[spec["dtype"]])
            if quant and stored in ("uint8", "uint16"):
                # Affine quantisation: value = q * scale + min.
                raw = raw.astype(np.float32) * float(quant["scale"]) + float(quant["min"])
            weights[spec["name"]] = raw.astype(target).reshape(shape)
    return weights


def _attr_list_ints(node: dict, key: str, default=None) -> list[int] | None:
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    return [int(v) for v in a.get("list", {}).get("i", [])]


def _attr_str(node: dict, key: str, default: str = "") -> str:
    a = node.get("attr", {}).get(key)
    if a is None or "s" not in a:
        return default
    return base64.b64decode(a["s"]).decode()


def _attr_bool(node: dict, key: str, default: bool = False) -> bool:
    a = node.get("attr", {}).get(key)
    return bool(a.get("b", default)) if a is not None else default


def _attr_float(node: dict, key: str, default: float) -> float:
    a = node.get("attr", {}).get(key)
    return float(a.get("f", default)) if a is not None else default


def _attr_int(node: dict, key: str, default: int) -> int:
    a = node.get("attr", {}).get(key)
    return int(a.get("i", default)) if a is not None else default


def _split_ref(ref: str) -> tuple[str, int]:
    """'name:1' -> ('name', 1); control inputs ('^name') are not data flow."""
    if ":" in ref:
        name, idx = ref.rsplit(":", 1)
        if idx.isdigit():
            return name, int(idx)
    return ref, 0


class _Builder:
    def __init__(self, nodes: dict[str, dict], consts: dict[str, np.ndarray]):
        self.nodes = nodes
        self.consts = dict(consts)  # folded values keyed by tensor ref "name:idx"
        self.onnx_nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}  # static shapes of dynamic tensors (NHWC as TF sees them)
        self._n = 0

    # -- helpers -------------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        self._n += 1
        return f"{base}__{self._n}"

    def const_input(self, ref: str) -> np.ndarray | None:
        name, idx = _split_ref(ref)
        return self.consts.get(f"{name}:{idx}")

    def tensor(self, ref: str) -> str:
        """ONNX value name for an input ref; constants become initializers on first use."""
        name, idx = _split_ref(ref)
        key = f"{name}:{idx}"
        if key in self.consts:
            init_name = f"const/{key}"
            if init_name not in self.initializers:
                self.initializers[init_name] = self.consts[key]
            return init_name
        return key

    def add_init(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.initializers[name] = value
        return name

    def emit(self, op: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        self.onnx_nodes.append(helper.make_node(op, inputs, outputs, **attrs))

    def to_nchw(self, value: str) -> str:
        out = self.fresh(value + "/nchw")
        self.emit("Transpose", [value], [out], perm=_NHWC_TO_NCHW)
        return out

    def to_nhwc(self, value: str, out: str) -> None:
        self.emit("Transpose", [value], [out], perm=_NCHW_TO_NHWC)

    def shape_of(self, ref: str) -> tuple[int, ...]:
        c = self.const_input(ref)
        if c is not None:
            return tuple(c.shape)
        name, idx = _split_ref(ref)
        key = f"{name}:{idx}"
        if key not in self.shapes:
            raise ConversionError(f"the converter cannot tell the shape of {key!r}")
        return self.shapes[key]


# -- constant folding (numpy) --------------------------------------------------------------------
# Ops that appear only in shape arithmetic; they are evaluated here and never emitted.
_FOLD_ONLY = {"StopGradient", "SparseToDense", "Pack", "Shape"}


def _fold(node: dict, args: list[np.ndarray]) -> list[np.ndarray] | None:
    """Evaluate a node with all-constant inputs; None means 'not foldable, emit it'."""
    op = node["op"]
    if op in ("Identity", "StopGradient"):
        return [args[0]]
    if op in ("Add", "AddV2"):
        return [np.asarray(args[0] + args[1])]
    if op == "Sub":
        return [np.asarray(args[0] - args[1])]
    if op == "Mul":
        return [np.asarray(args[0] * args[1])]
    if op == "Cast":
        dst = node["attr"]["DstT"]["type"]
        return [args[0].astype(_TF_DTYPES[dst])]
    if op == "Reshape":
        return [args[0].reshape([int(v) for v in args[1].ravel()])]
    if op == "SparseToDense":
        indices, out_shape, values, default = args
        dense = np.full([int(v) for v in np.atleast_1d(out_shape)], default, dtype=values.dtype)
        rank = dense.ndim
        idx = indices.reshape(-1, rank) if indices.size else np.zeros((0, rank), np.int64)
        vals = np.broadcast_to(values, (len(idx),))
        for i, v in zip(idx, vals):
            dense[tuple(i)] = v
        return [dense]
    if op == "Pack":
        axis = _attr_int(node, "axis", 0)
        return [np.stack(args, axis=axis)]
    if op == "ConcatV2":
        return [np.concatenate(args[:-1], axis=int(args[-1]))]
    if op == "Shape":
        return [np.array(args[0].shape, dtype=np.int32)]
    return None


def convert(model_json: dict, weights: dict[str, np.ndarray], outputs: list[str] | None = None) -> ConvertedModel:
    """Translate the graph into ONNX, keeping only what `outputs` (default: the signature's) need."""
    topo = model_json.get("modelTopology", {})
    node_list = topo.get("node")
    if not node_list:
        raise ConversionError("the model JSON has no graph nodes (is it a TF.js *graph* model?)")
    nodes = {n["name"]: n for n in node_list}
    if outputs is None:
        sig_out = model_json.get("signature", {}).get("outputs", {})
        outputs = sorted(_split_ref(k)[0] for k in sig_out) if sig_out else [node_list[-1]["name"]]
    for o in outputs:
        if _split_ref(o)[0] not in nodes:
            raise ConversionError(f"output {o!r} is not a node of this graph")

    # Keep only the ancestors of the requested outputs.
    needed: set[str] = set()
    stack = [_split_ref(o)[0] for o in outputs]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        for ref in nodes[name].get("input", []):
            if not ref.startswith("^"):
                stack.append(_split_ref(ref)[0])

    unknown = sorted({nodes[n]["op"] for n in needed} - set(_EMITTERS) - _FOLD_ONLY - {"Const", "Placeholder"})
    if unknown:
        raise UnsupportedOpError(f"the graph uses operation(s) the converter does not support: {', '.join(unknown)}")

    consts: dict[str, np.ndarray] = {}
    for name in needed:
        if nodes[name]["op"] == "Const":
            if name not in weights:
                raise ConversionError(f"constant {name!r} has no entry in the weights manifest")
            consts[f"{name}:0"] = weights[name]
    b = _Builder(nodes, consts)

    placeholders = [n for n in node_list if n["name"] in needed and n["op"] == "Placeholder"]
    if len(placeholders) != 1:
        raise ConversionError(f"expected one graph input, found {len(placeholders)}")
    ph = placeholders[0]
    in_shape = tuple(int(d.get("size", -1)) for d in ph["attr"]["shape"]["shape"]["dim"])
    if any(d < 0 for d in in_shape):
        raise ConversionError("the graph input has an unknown dimension; the converter needs a fixed input shape")
    in_name = ph["name"]
    b.shapes[f"{in_name}:0"] = in_shape
    graph_inputs = [helper.make_tensor_value_info(f"{in_name}:0", TensorProto.FLOAT, list(in_shape))]

    # Nodes in dependency order (TF.js stores them topologically, but do not rely on it).
    order: list[str] = []
    state: dict[str, int] = {}
    for root in [_split_ref(o)[0] for o in outputs]:
        todo = [(root, False)]
        while todo:
            name, done = todo.pop()
            if done:
                state[name] = 2
                order.append(name)
                continue
            if state.get(name):
                continue
            state[name] = 1
            todo.append((name, True))
            for ref in reversed(nodes[name].get("input", [])):
                dep = _split_ref(ref)[0]
                if not ref.startswith("^") and not state.get(dep):
                    todo.append((dep, False))

    for name in order:
        node = nodes[name]
        op = node["op"]
        if op in ("Const", "Placeholder"):
            continue
        inputs = [r for r in node.get("input", []) if not r.startswith("^")]
        args = [b.const_input(r) for r in inputs]
        if all(a is not None for a in args):
            folded = _fold(node, args)  # type: ignore[arg-type]
            if folded is not None:
                for i, v in enumerate(folded):
                    b.consts[f"{name}:{i}"] = np.asarray(v)
                continue
        if op not in _EMITTERS:
            raise UnsupportedOpError(f"operation {op} ({name}) is only supported on constant inputs")
        _EMITTERS[op](b, node, inputs)

    out_infos = []
    out_names = []
    for o in outputs:
        oname, idx = _split_ref(o)
        ref = f"{oname}:{idx}"
        if ref in b.consts:
            raise ConversionError(f"output {o!r} is a constant; nothing to run")
        # Give outputs their plain node name so callers can look them up.
        b.emit("Identity", [ref], [oname])
        out_infos.append(helper.make_tensor_value_info(oname, TensorProto.FLOAT, list(b.shapes.get(ref, ())) or None))
        out_names.append(oname)

    inits = [numpy_helper.from_array(v, name=k) for k, v in b.initializers.items()]
    graph = helper.make_graph(b.onnx_nodes, "tfjs_graph", graph_inputs, out_infos, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="maxsight-tfjs2onnx")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return ConvertedModel(model=model, input_name=f"{in_name}:0", input_shape=in_shape, output_names=tuple(out_names))


def convert_files(model_json_path: Path, outputs: list[str] | None = None) -> ConvertedModel:
    try:
        model_json = json.loads(Path(model_json_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConversionError(f"cannot read TF.js model JSON {model_json_path}: {exc}") from exc
    weights = read_weights(model_json, Path(model_json_path).parent)
    return convert(model_json, weights, outputs)


# -- emitters: one per TF op; each records the static NHWC shape of what it produces --------------
def _out(node: dict, i: int = 0) -> str:
    return f"{node['name']}:{i}"


def _conv_out_hw(h: int, w: int, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int], padding: str) -> tuple[int, int]:
    ek = ((k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1)
    if padding == "SAME":
        return -(-h // s[0]), -(-w // s[1])
    return (h - ek[0]) // s[0] + 1, (w - ek[1]) // s[1] + 1


def _check_nhwc(node: dict) -> None:
    fmt = _attr_str(node, "data_format", "NHWC")
    if fmt != "NHWC":
        raise UnsupportedOpError(f"{node['op']} with data_format {fmt} is not supported")


def _pads_attr(node: dict) -> dict:
    padding = _attr_str(node, "padding", "VALID")
    if padding == "SAME":
        return {"auto_pad": "SAME_UPPER"}  # TF puts the odd pixel at the bottom/right, as SAME_UPPER does
    if padding == "VALID":
        return {"pads": [0, 0, 0, 0]}
    raise UnsupportedOpError(f"{node['op']} padding {padding} is not supported")


def _activation(b: _Builder, kind: str, x: str, out: str, alpha: float = 0.2) -> None:
    if kind == "Relu":
        b.emit("Relu", [x], [out])
    elif kind == "Relu6":
        b.emit("Clip", [x, b.add_init("zero", np.array(0, np.float32)), b.add_init("six", np.array(6, np.float32))], [out])
    elif kind == "LeakyRelu":
        b.emit("LeakyRelu", [x], [out], alpha=alpha)
    elif kind == "Sigmoid":
        b.emit("Sigmoid", [x], [out])
    elif kind == "Elu":
        b.emit("Elu", [x], [out])
    else:
        raise UnsupportedOpError(f"fused activation {kind} is not supported")


def _conv_like(b: _Builder, node: dict, inputs: list[str], depthwise: bool, fused: bool) -> None:
    _check_nhwc(node)
    w = b.const_input(inputs[1])
    if w is None:
        raise ConversionError(f"{node['name']}: convolution weights must be constant")
    kh, kw = w.shape[0], w.shape[1]
    if depthwise:
        cin, mult = w.shape[2], w.shape[3]
        w_oihw = w.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
        group, cout = cin, cin * mult
    else:
        w_oihw = w.transpose(3, 2, 0, 1)
        group, cout = 1, w.shape[3]
    strides = _attr_list_ints(node, "strides", [1, 1, 1, 1])
    dil = _attr_list_ints(node, "dilations", [1, 1, 1, 1]) or [1, 1, 1, 1]
    conv_in = [b.to_nchw(b.tensor(inputs[0])), b.add_init(node["name"] + "/w", np.ascontiguousarray(w_oihw, np.float32))]
    fused_ops = []
    if fused:
        fused_ops = [base64.b64decode(s).decode() for s in node["attr"]["fused_ops"]["list"].get("s", [])]
        if not fused_ops or fused_ops[0] != "BiasAdd":
            raise UnsupportedOpError(f"{node['op']} with fused ops {fused_ops} is not supported")
        bias = b.const_input(inputs[2])
        if bias is None:
            raise ConversionError(f"{node['name']}: fused bias must be constant")
        conv_in.append(b.add_init(node["name"] + "/b", bias.astype(np.float32)))
        fused_ops = fused_ops[1:]
    y = b.fresh(node["name"] + "/conv")
    b.emit("Conv", conv_in, [y], kernel_shape=[kh, kw], strides=strides[1:3], dilations=dil[1:3], group=group, **_pads_attr(node))
    for act in fused_ops:
        z = b.fresh(node["name"] + "/" + act)
        _activation(b, act, y, z, alpha=_attr_float(node, "leakyrelu_alpha", 0.2))
        y = z
    b.to_nhwc(y, _out(node))
    n, h, wd, _ = b.shape_of(inputs[0])
    oh, ow = _conv_out_hw(h, wd, (kh, kw), (strides[1], strides[2]), (dil[1], dil[2]), _attr_str(node, "padding"))
    b.shapes[_out(node)] = (n, oh, ow, cout)


def _e_conv(b, node, inputs):
    _conv_like(b, node, inputs, depthwise=False, fused=False)


def _e_fused_conv(b, node, inputs):
    _conv_like(b, node, inputs, depthwise=False, fused=True)


def _e_dw(b, node, inputs):
    _conv_like(b, node, inputs, depthwise=True, fused=False)


def _e_fused_dw(b, node, inputs):
    _conv_like(b, node, inputs, depthwise=True, fused=True)


def _broadcast_shape(b: _Builder, inputs: list[str]) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*[b.shape_of(r) for r in inputs]))


def _binary(onnx_op: str):
    def emit(b: _Builder, node: dict, inputs: list[str]) -> None:
        a, c = (b.tensor(r) for r in inputs)
        b.emit(onnx_op, [a, c], [_out(node)])
        b.shapes[_out(node)] = _broadcast_shape(b, inputs)
    return emit


def _unary(kind: str):
    def emit(b: _Builder, node: dict, inputs: list[str]) -> None:
        _activation(b, kind, b.tensor(inputs[0]), _out(node), alpha=_attr_float(node, "alpha", 0.2))
        b.shapes[_out(node)] = b.shape_of(inputs[0])
    return emit


def _e_identity(b, node, inputs):
    b.emit("Identity", [b.tensor(inputs[0])], [_out(node)])
    b.shapes[_out(node)] = b.shape_of(inputs[0])


def _e_transpose(b, node, inputs):
    perm = b.const_input(inputs[1])
    if perm is None:
        raise ConversionError(f"{node['name']}: Transpose needs a constant permutation")
    perm = [int(p) for p in perm]
    b.emit("Transpose", [b.tensor(inputs[0])], [_out(node)], perm=perm)
    shp = b.shape_of(inputs[0])
    b.shapes[_out(node)] = tuple(shp[p] for p in perm)


def _e_pad(b, node, inputs):
    paddings = b.const_input(inputs[1])
    if paddings is None:
        raise ConversionError(f"{node['name']}: Pad needs constant paddings")
    paddings = paddings.astype(np.int64)
    pads = np.concatenate([paddings[:, 0], paddings[:, 1]])
    args = [b.tensor(inputs[0]), b.add_init(node["name"] + "/pads", pads)]
    if node["op"] == "PadV2":
        value = b.const_input(inputs[2])
        if value is None:
            raise ConversionError(f"{node['name']}: PadV2 needs a constant fill value")
        args.append(b.add_init(node["name"] + "/value", np.asarray(value, np.float32).reshape(())))
    b.emit("Pad", args, [_out(node)], mode="constant")
    shp = b.shape_of(inputs[0])
    b.shapes[_out(node)] = tuple(int(s + p0 + p1) for s, (p0, p1) in zip(shp, paddings))


def _e_maxpool(b, node, inputs):
    _check_nhwc(node)
    k = _attr_list_ints(node, "ksize")
    s = _attr_list_ints(node, "strides")
    x = b.to_nchw(b.tensor(inputs[0]))
    y = b.fresh(node["name"] + "/pool")
    b.emit("MaxPool", [x], [y], kernel_shape=k[1:3], strides=s[1:3], **_pads_attr(node))
    b.to_nhwc(y, _out(node))
    n, h, w, c = b.shape_of(inputs[0])
    oh, ow = _conv_out_hw(h, w, (k[1], k[2]), (s[1], s[2]), (1, 1), _attr_str(node, "padding"))
    b.shapes[_out(node)] = (n, oh, ow, c)


def _e_concat(b, node, inputs):
    axis = b.const_input(inputs[-1])
    if axis is None:
        raise ConversionError(f"{node['name']}: ConcatV2 needs a constant axis")
    shapes = [b.shape_of(r) for r in inputs[:-1]]
    axis = int(axis) % len(shapes[0])
    b.emit("Concat", [b.tensor(r) for r in inputs[:-1]], [_out(node)], axis=axis)
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    b.shapes[_out(node)] = tuple(out)


def _e_resize_bilinear(b, node, inputs):
    size = b.const_input(inputs[1])
    if size is None:
        raise ConversionError(f"{node['name']}: ResizeBilinear needs a constant output size")
    n, h, w, c = b.shape_of(inputs[0])
    oh, ow = int(size[0]), int(size[1])
    if _attr_bool(node, "align_corners"):
        mode = "align_corners"
    elif _attr_bool(node, "half_pixel_centers"):
        mode = "half_pixel"
    else:
        mode = "asymmetric"
    x = b.to_nchw(b.tensor(inputs[0]))
    y = b.fresh(node["name"] + "/resize")
    sizes = b.add_init(node["name"] + "/sizes", np.array([n, c, oh, ow], np.int64))
    b.emit("Resize", [x, "", "", sizes], [y], mode="linear", coordinate_transformation_mode=mode)
    b.to_nhwc(y, _out(node))
    b.shapes[_out(node)] = (n, oh, ow, c)


def _e_reshape(b, node, inputs):
    shape = b.const_input(inputs[1])
    if shape is None:
        raise ConversionError(f"{node['name']}: Reshape needs a constant target shape")
    shape = shape.astype(np.int64).ravel()
    b.emit("Reshape", [b.tensor(inputs[0]), b.add_init(node["name"] + "/shape", shape)], [_out(node)])
    total = int(np.prod(b.shape_of(inputs[0])))
    dims = [int(d) for d in shape]
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1]))
        dims[dims.index(-1)] = total // known
    b.shapes[_out(node)] = tuple(dims)


def _e_splitv(b, node, inputs):
    sizes = b.const_input(inputs[1])
    axis = b.const_input(inputs[2])
    if sizes is None or axis is None:
        raise ConversionError(f"{node['name']}: SplitV needs constant sizes and axis")
    shp = b.shape_of(inputs[0])
    axis = int(axis) % len(shp)
    sizes = [int(s) for s in sizes]
    if -1 in sizes:
        sizes[sizes.index(-1)] = shp[axis] - (sum(sizes) + 1)
    outs = [_out(node, i) for i in range(len(sizes))]
    b.emit("Split", [b.tensor(inputs[0]), b.add_init(node["name"] + "/split", np.array(sizes, np.int64))], outs, axis=axis)
    for o, s in zip(outs, sizes):
        shape = list(shp)
        shape[axis] = s
        b.shapes[o] = tuple(shape)


def _e_mean(b, node, inputs):
    axes = b.const_input(inputs[1])
    if axes is None:
        raise ConversionError(f"{node['name']}: Mean needs constant axes")
    shp = b.shape_of(inputs[0])
    axes = sorted(int(a) % len(shp) for a in np.atleast_1d(axes))
    keep = _attr_bool(node, "keep_dims")
    b.emit("ReduceMean", [b.tensor(inputs[0])], [_out(node)], axes=axes, keepdims=int(keep))
    b.shapes[_out(node)] = tuple((1 if i in axes else d) for i, d in enumerate(shp) if keep or i not in axes)


_ONNX_TYPES = {"DT_FLOAT": TensorProto.FLOAT, "DT_INT32": TensorProto.INT32, "DT_INT64": TensorProto.INT64, "DT_BOOL": TensorProto.BOOL}


def _e_cast(b, node, inputs):
    dst = node["attr"]["DstT"]["type"]
    if dst not in _ONNX_TYPES:
        raise UnsupportedOpError(f"Cast to {dst} is not supported")
    b.emit("Cast", [b.tensor(inputs[0])], [_out(node)], to=_ONNX_TYPES[dst])
    b.shapes[_out(node)] = b.shape_of(inputs[0])


_EMITTERS = {
    "Cast": _e_cast,
    "Equal": _binary("Equal"),
    "Conv2D": _e_conv,
    "_FusedConv2D": _e_fused_conv,
    "DepthwiseConv2dNative": _e_dw,
    "FusedDepthwiseConv2dNative": _e_fused_dw,
    "Add": _binary("Add"),
    "AddV2": _binary("Add"),
    "BiasAdd": _binary("Add"),
    "Sub": _binary("Sub"),
    "Mul": _binary("Mul"),
    "RealDiv": _binary("Div"),
    "Maximum": _binary("Max"),
    "Minimum": _binary("Min"),
    "Relu": _unary("Relu"),
    "Relu6": _unary("Relu6"),
    "LeakyRelu": _unary("LeakyRelu"),
    "Sigmoid": _unary("Sigmoid"),
    "Elu": _unary("Elu"),
    "Identity": _e_identity,
    "Transpose": _e_transpose,
    "Pad": _e_pad,
    "PadV2": _e_pad,
    "MaxPool": _e_maxpool,
    "ConcatV2": _e_concat,
    "ResizeBilinear": _e_resize_bilinear,
    "Reshape": _e_reshape,
    "SplitV": _e_splitv,
    "Mean": _e_mean,
}
