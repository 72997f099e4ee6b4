"""MobileNetV2 (torchvision layout, ImageNet weights) built as an ONNX graph from a state dict, so
personal-object embeddings run on ONNX Runtime without torch. BatchNorm is folded into each
convolution. Outputs: 'embedding' [1, 1280] (global average pool of the last features) and
'logits' [1, 1000] (kept for the parity check against torchvision)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (expansion t, channels c, repeats n, first stride s): torchvision's inverted residual settings.
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def build(state: dict[str, np.ndarray], size: int = 224) -> onnx.ModelProto:
    nodes, inits = [], []
    counter = [0]

    def name(base):
        counter[0] += 1
        return f"{base}_{counter[0]}"

    def conv_bn(x, conv, bn, stride, groups, relu6):
        w = state[f"{conv}.weight"]
        g, b, m, v = (state[f"{bn}.{k}"] for k in ("weight", "bias", "running_mean", "running_var"))
        scale = g / np.sqrt(v + 1e-5)
        wf = (w * scale[:, None, None, None]).astype(np.float32)
        bf = (b - m * scale).astype(np.float32)
        wn, bn_ = name("w"), name("b")
        inits.extend([numpy_helper.from_array(wf, wn), numpy_helper.from_array(bf, bn_)])
        k = w.shape[2]
        y = name("conv")
        nodes.append(helper.make_node("Conv", [x, wn, bn_], [y], kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[(k - 1) // 2] * 4, group=groups))
        if relu6:
            z = name("relu6")
            nodes.append(helper.make_node("Clip", [y, "zero", "six"], [z]))
            return z
        return y

    inits += [numpy_helper.from_array(np.array(0, np.float32), "zero"), numpy_helper.from_array(np.array(6, np.float32), "six")]
    x = conv_bn("image", "features.0.0", "features.0.1", 2, 1, True)
    cin, idx = 32, 1
    for t, c, n, s in SETTINGS:
        for i in range(n):
            stride = s if i == 0 else 1
            p = f"features.{idx}.conv"
            hidden = cin * t
            y = x
            if t != 1:
                y = conv_bn(y, f"{p}.0.0", f"{p}.0.1", 1, 1, True)
                dw, pw, bn = f"{p}.1", f"{p}.2", f"{p}.3"
            else:
                dw, pw, bn = f"{p}.0", f"{p}.1", f"{p}.2"
            y = conv_bn(y, f"{dw}.0", f"{dw}.1", stride, hidden, True)
            y = conv_bn(y, pw, bn, 1, 1, False)
            assert state[f"{pw}.weight"].shape[:2] == (c, hidden), f"MobileNetV2 block {idx}: unexpected weights {state[f'{pw}.weight'].shape}"
            if stride == 1 and cin == c:
                r = name("add")
                nodes.append(helper.make_node("Add", [x, y], [r]))
                y = r
            x, cin, idx = y, c, idx + 1
    x = conv_bn(x, f"features.{idx}.0", f"features.{idx}.1", 1, 1, True)
    pooled = name("pool")
    nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    nodes.append(helper.make_node("Flatten", [pooled], ["embedding"], axis=1))
    inits += [numpy_helper.from_array(state["classifier.1.weight"].astype(np.float32), "fc_w"),
              numpy_helper.from_array(state["classifier.1.bias"].astype(np.float32), "fc_b")]
    nodes.append(helper.make_node("Gemm", ["embedding", "fc_w", "fc_b"], ["logits"], transB=1))
    graph = helper.make_graph(nodes, "mobilenet_v2", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 1280]),
                               helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="maxsight")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
