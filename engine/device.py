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


_CUDA_PRELOADED = False


def _preload_cuda() -> None:
    """onnxruntime-gpu (1.21+) finds the CUDA and cuDNN libraries of the nvidia-* wheels that its
    [cuda,cudnn] extras install only after preload_dlls(); a system CUDA works without it."""
    global _CUDA_PRELOADED
    if _CUDA_PRELOADED:
        return
    _CUDA_PRELOADED = True
    import onnxruntime as ort
    try:
        if hasattr(ort, "preload_dlls"):
            ort.preload_dlls()
    except Exception:  # noqa: BLE001 - a missing library shows up as the CPU provider, which runs_on reports
        log.info("ONNX Runtime could not preload the CUDA libraries", exc_info=True)


def onnx_providers(device: str) -> list[str]:
    have = available_onnx_providers()
    wanted = {"cuda": ["CUDAExecutionProvider"], "mps": ["CoreMLExecutionProvider"]}.get(device, [])
    chosen = [p for p in wanted if p in have] + ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in chosen:
        _preload_cuda()
    if wanted and chosen == ["CPUExecutionProvider"]:
        log.info("ONNX Runtime has no provider for %s here; running on the CPU", device)
    return chosen


_PROVIDER_FOR = {"cuda": "CUDAExecutionProvider", "mps": "CoreMLExecutionProvider"}
_DEVICE_OF = {"CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "cuda", "CoreMLExecutionProvider": "mps",
              "CPUExecutionProvider": "cpu"}


def device_problem(device: str) -> str | None:
    """One sentence when `device` was asked for by name but ONNX Runtime here cannot use it; None
    when it can (or for auto and cpu, which always run)."""
    if device in ("auto", "cpu"):
        return None
    have = available_onnx_providers()
    if _PROVIDER_FOR[device] in have:
        return None
    if device == "cuda":
        return (f"CUDA was asked for, but this ONNX Runtime has no CUDA provider (it has {', '.join(have)}); on a machine "
                "with an NVIDIA GPU and its driver, install the GPU build (pip install 'maxsight[gpu]'), or use --device cpu")
    return (f"{device} was asked for, but this ONNX Runtime has no {_PROVIDER_FOR[device]} (it has {', '.join(have)}); "
            "use --device cpu")


def sessions_of(detector) -> list:
    """The ONNX Runtime sessions behind a detector (a fused detector has one per part)."""
    out, todo = [], [detector]
    while todo:
        d = todo.pop(0)
        if hasattr(d, "session") and hasattr(d.session, "get_providers"):
            out.append(d.session)
        todo += list(getattr(d, "parts", ()) or ())
    return out


def runs_on(detector, asked: str = "auto") -> str:
    """What a built detector really runs on, in words: 'cpu (ONNX Runtime CPUExecutionProvider)',
    'cuda (ONNX Runtime CUDAExecutionProvider)'. ONNX Runtime falls back to the CPU without an error
    when a GPU provider fails to start, so this asks the sessions, not the request."""
    sessions = sessions_of(detector)
    if not sessions:
        return f"{asked} (not ONNX Runtime)"
    first = sorted({s.get_providers()[0] for s in sessions})
    device = _DEVICE_OF.get(first[0], first[0])
    words = f"{device} (ONNX Runtime {', '.join(first)})"
    if asked not in ("auto", device):
        words += f"; {asked} was asked for but is not available"
    return words
