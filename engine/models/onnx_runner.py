"""ONNX Runtime sessions configured for a shared 2-core machine."""
from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort

from engine.device import onnx_providers
from engine.models.spec import ModelError

log = logging.getLogger(__name__)


def make_session(path: Path, threads: int, device: str = "cpu", model: bytes | None = None) -> ort.InferenceSession:
    """A session, or ModelError in one sentence when the file is not a model ONNX Runtime can run
    (truncated, damaged, or made for another opset). model: the serialised graph to run instead of
    the file's (e.g. the file's graph with an extra output added at load time); `path` names it."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Spinning threads add jitter and make two sessions (fusion, Stage B) fight over the cores.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(model if model is not None else str(path), so, providers=onnx_providers(device))
    except Exception as exc:  # noqa: BLE001 - ORT raises InvalidProtobuf, Fail, RuntimeException...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"ONNX Runtime cannot load {path} ({first[:160]}); if it is a fetched model, run "
                         "`maxsight models fetch` to repair it") from None
