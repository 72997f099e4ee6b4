"""Pick the compute device: cuda > mps > cpu, and the ONNX Runtime providers that match."""
from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)


def available_onnx_providers() -> list[str]:
    import onnxruntime as ort
    return list(ort.get_available_providers())


def pick_device(requested: str = "auto") -> str:
    """'auto' -> the best device present. torch is optional: without it only ONNX Runtime is asked."""
    if requested not in ("auto", "cuda", "mps", "cpu"):
        raise ValueError(f"device must be auto, cuda, mps or cpu, not {requested!r}")
    if requested != "auto":
        return requested
    providers = available_onnx_providers()
    if "CUDAExecutionProvider" in providers:
        return "cuda"
    if "CoreMLExecutionProvider" in providers:
        return "mps"
    # torch is asked only when something already loaded it (training): importing it just to ask
    # costs ~3 s and ~700 MB of resident memory, and the app's models run on ONNX Runtime anyway.
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
    return "cpu"


def onnx_providers(device: str) -> list[str]:
    have = available_onnx_providers()
    wanted = {"cuda": ["CUDAExecutionProvider"], "mps": ["CoreMLExecutionProvider"]}.get(device, [])
    chosen = [p for p in wanted if p in have] + ["CPUExecutionProvider"]
    if wanted and chosen == ["CPUExecutionProvider"]:
        log.info("ONNX Runtime has no provider for %s here; running on the CPU", device)
    return chosen
