"""ExecuTorch and CoreML exports of a trained detector (its Predictor: scores, boxes, distance,
urgency, uncertainty), used by export.py.

ExecuTorch (pip package executorch, pinned in the export extra to 1.5.1, which fits torch 2.14.1):
torch.export, lowered to the XNNPACK delegate (the CPU backend phones use; operators it does not
take run on ExecuTorch's portable kernels), written as a .pte program, then loaded and run by
ExecuTorch's own Python runtime (executorch.runtime) on the same real images as the ONNX check,
and held to the same tolerance; latency of that runtime is measured beside it.

CoreML (coremltools 9.0): converted from the traced Predictor to an ML program (fp32 compute, so
the numbers are the model's own), saved as .mlpackage, read back from disk and its spec checked:
one input "image" of the model's shape, the five named outputs, and for every output the shape
eager torch gives when the spec records one. A CoreML model can only be run on macOS (Core ML
is part of the OS); on Linux this check is all that can be done, and the report says so.
"""
from __future__ import annotations

import importlib.util
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

PACKAGES = {"executorch": "executorch", "coreml": "coremltools"}
PINS = {"executorch": "executorch==1.5.1", "coremltools": "coremltools==9.0"}


def missing_package(fmt: str) -> str | None:
    """One sentence when the package an export format needs is not installed, else None."""
    pkg = PACKAGES.get(fmt)
    if pkg is None or importlib.util.find_spec(pkg) is not None:
        return None
    return (f"the {fmt} export needs the {pkg} package, which is not installed; install the export extra "
            f"(pip install -e '.[export]', which pins {PINS[pkg]}) or scripts/setup.sh --training")


# ---- ExecuTorch -----------------------------------------------------------------------------------
def export_executorch(eager: torch.nn.Module, example: torch.Tensor, path: Path, delegate: str = "xnnpack") -> Path:
    from executorch.exir import to_edge_transform_and_lower
    # A batch axis added by numpy (x[None]) has stride 0, which ExecuTorch refuses: fresh strides.
    example = torch.empty(example.shape, dtype=example.dtype).copy_(example)
    with torch.no_grad():
        program = torch.export.export(eager, (example,))
    partitioners = []
    if delegate == "xnnpack":
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        partitioners = [XnnpackPartitioner()]
    et = to_edge_transform_and_lower(program, partitioner=partitioners).to_executorch()
    path = Path(path)
    path.write_bytes(et.buffer)
    return path


class ExecuTorchRunner:
    """A .pte program run by ExecuTorch's Python runtime; call(x) -> list of numpy outputs."""

    def __init__(self, path: Path):
        from executorch.runtime import Runtime
        self.runtime = Runtime.get()
        self.program = self.runtime.load_program(str(path))
        self.method = self.program.load_method("forward")

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        outs = self.method.execute([torch.from_numpy(np.array(x, dtype=np.float32, copy=True))])
        return [o.detach().numpy() if torch.is_tensor(o) else np.asarray(o) for o in outs]


def latency_ms(run, inputs: list[np.ndarray], repeat: int = 1) -> float:
    """Median milliseconds of run(x) over the inputs (after one warm-up call)."""
    run(inputs[0])
    times = []
    for _ in range(repeat):
        for x in inputs:
            t0 = time.perf_counter()
            run(x)
            times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


# ---- CoreML ---------------------------------------------------------------------------------------
def export_coreml(eager: torch.nn.Module, example: torch.Tensor, path: Path, output_names) -> Path:
    import coremltools as ct
    with torch.inference_mode(), torch.jit.optimized_execution(False):
        traced = torch.jit.trace(eager, example, check_trace=False)
    ml = ct.convert(traced, inputs=[ct.TensorType(name="image", shape=tuple(example.shape))],
                    outputs=[ct.TensorType(name=n) for n in output_names], convert_to="mlprogram",
                    compute_precision=ct.precision.FLOAT32, minimum_deployment_target=ct.target.iOS16)
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    ml.save(str(path))
    return path


def _shape(feature) -> list[int] | None:
    t = feature.type.WhichOneof("Type")
    if t != "multiArrayType":
        return None
    shape = list(feature.type.multiArrayType.shape)
    return [int(s) for s in shape] if shape else None


def validate_coreml(path: Path, example: torch.Tensor, eager_outputs: list[torch.Tensor], output_names) -> dict:
    """Read the saved package back and check its spec: input name and shape, output names, and
    each output's shape where the spec records one. Raises ValueError naming the first mismatch."""
    import coremltools as ct
    ml = ct.models.MLModel(str(path), skip_model_load=True)
    spec = ml.get_spec()
    ins, outs = list(spec.description.input), list(spec.description.output)
    if [i.name for i in ins] != ["image"]:
        raise ValueError(f"the CoreML package's inputs are {[i.name for i in ins]}, expected ['image']")
    in_shape = _shape(ins[0])
    if in_shape != list(example.shape):
        raise ValueError(f"the CoreML input 'image' has shape {in_shape}, the model takes {list(example.shape)}")
    names = [o.name for o in outs]
    if names != list(output_names):
        raise ValueError(f"the CoreML package's outputs are {names}, expected {list(output_names)}")
    checked = {}
    for o, ref in zip(outs, eager_outputs):
        s = _shape(o)
        if s is not None and s != list(ref.shape):
            raise ValueError(f"the CoreML output {o.name!r} has shape {s}, eager torch gives {list(ref.shape)}")
        checked[o.name] = s if s is not None else f"not recorded (eager {list(ref.shape)})"
    return {"spec_version": int(spec.specificationVersion), "type": spec.WhichOneof("Type"), "input": {"image": in_shape},
            "outputs": checked, "ran": False,
            "note": "CoreML models run only on macOS (Core ML is part of the OS); on Linux the spec, names and shapes are checked"}
