"""Which device Stage A runs on, said from what ONNX Runtime really uses; asking for CUDA where
there is none is one sentence (bench stage-a --device cuda), never a silent CPU run."""
from __future__ import annotations

import subprocess
import sys

import pytest

from engine import device
from engine.device import device_problem, runs_on


def test_cpu_and_auto_always_run():
    assert device_problem("cpu") is None and device_problem("auto") is None


def test_cuda_without_its_provider_is_one_sentence(monkeypatch):
    monkeypatch.setattr(device, "available_onnx_providers", lambda: ["CPUExecutionProvider"])
    msg = device_problem("cuda")
    assert msg.startswith("CUDA was asked for") and "pip install 'maxsight[gpu]'" in msg and "--device cpu" in msg
    monkeypatch.setattr(device, "available_onnx_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert device_problem("cuda") is None


def test_runs_on_reads_the_real_session(installed_models):
    from engine.models.detectors import build
    reg = installed_models
    det = build(reg.get("nanodet"), reg, threads=1, device="cpu")
    assert runs_on(det) == "cpu (ONNX Runtime CPUExecutionProvider)"
    # Asked for CUDA where ONNX Runtime has none: the session falls back, and the words say so.
    if "CUDAExecutionProvider" not in device.available_onnx_providers():
        det = build(reg.get("nanodet"), reg, threads=1, device="cuda")
        assert runs_on(det, "cuda") == "cpu (ONNX Runtime CPUExecutionProvider); cuda was asked for but is not available"


def test_a_fused_detector_reports_its_parts(installed_models):
    from engine.models.detectors import build
    det = build(installed_models.get("fused"), installed_models, threads=2)
    assert len(device.sessions_of(det)) == 2 and runs_on(det).startswith("cpu (")


@pytest.mark.skipif("CUDAExecutionProvider" in __import__("onnxruntime").get_available_providers(),
                    reason="this machine has CUDA")
def test_bench_stage_a_on_cuda_without_cuda_is_one_sentence(tmp_path):
    r = subprocess.run([sys.executable, "-m", "maxsight_app", "bench", "stage-a", "--device", "cuda",
                        "--json", str(tmp_path / "b.json")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("maxsight:")]
    assert len(lines) == 1 and "CUDA was asked for" in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "b.json").exists()
