"""ONNX Runtime sessions configured for a shared 2-core machine."""
from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort

from engine.device import onnx_providers

log = logging.getLogger(__name__)


def make_session(path: Path, threads: int, device: str = "cpu") -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Spinning threads add jitter and make two sessions (fusion, Stage B) fight over the cores.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=onnx_providers(device))
