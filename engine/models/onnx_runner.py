"""ONNX Runtime sessions configured for a shared 2-core machine."""
from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort

from engine.device import onnx_providers
from engine.models.registry import ModelError

log = logging.getLogger(__name__)


def make_session(path: Path, threads: int, device: str = "cpu") -> ort.InferenceSession:
    """A session, or ModelError in one sentence when the file is not a model ONNX Runtime can run
    (truncated, damaged, or made for another opset)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Spinning threads add jitter and make two sessions (fusion, Stage B) fight over the cores.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), so, providers=onnx_providers(device))
    except Exception as exc:  # noqa: BLE001 - ORT raises InvalidProtobuf, Fail, RuntimeException...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"ONNX Runtime cannot load {path} ({first[:160]}); if it is a fetched model, run "
                         "`maxsight models fetch` to repair it") from None
