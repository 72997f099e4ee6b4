"""Export a checkpoint for the app: ONNX (parity-checked against eager torch on real images),
TorchScript, ExecuTorch (run by its own runtime and held to the ONNX tolerance) and CoreML (spec
and shapes checked; it runs only on macOS) when their packages are installed (export_mobile.py),
and INT8 (ONNX Runtime static quantisation, calibrated on real images) with its accuracy change
measured.

Every export writes a sidecar JSON beside the .onnx that the registry reads (input size, preset,
clip length, scores for track birth, measured metrics), so `maxsight run --model FILE.onnx` works.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from training.model import OUTPUT_NAMES, Predictor

log = logging.getLogger(__name__)
FORMATS = ("onnx", "torchscript", "coreml", "executorch", "int8")
# What an export must match eager torch to on real images (ONNX and ExecuTorch alike): the largest
# score difference, and the largest box difference as a share of the input size (0.05 px at 100 px).
PARITY_MAX_SCORE = 1e-3
PARITY_MAX_BOX_FRACTION = 0.05 / 100


def parity_ok(p: dict, size: int) -> bool:
    return p["max_abs_score"] <= PARITY_MAX_SCORE and p["max_abs_box_px"] <= PARITY_MAX_BOX_FRACTION * size


class ExportError(RuntimeError):
    pass


@dataclass
class ExportReport:
    files: dict[str, str] = field(default_factory=dict)
    parity: dict[str, dict] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    accuracy: dict[str, dict] = field(default_factory=dict)
    checks: dict[str, dict] = field(default_factory=dict)       # formats that cannot run here (CoreML: spec and shapes)


def default_split(cfg) -> str:
    """The split exports are checked on: the dev half of a COCO val set, the val split of YOLO sets."""
    from training.data import dataset_layout
    return "val" if dataset_layout(cfg.resolve_all(cfg.data.val)) == "yolo" else "dev"


def calibration_images(cfg, split: str | None = None, limit: int = 16) -> list[np.ndarray]:
    """Real images for parity checks and INT8 calibration: the config's val set (default_split)."""
    from training.data import open_dataset
    ds = open_dataset(cfg.resolve_all(cfg.data.val), split or default_split(cfg))
    return [ds.load(i).image for i in range(min(limit, len(ds)))]


def _inputs(images: list[np.ndarray], size: int, clip: int) -> list[np.ndarray]:
    from engine.models.detectors.maxsight import preprocess
    xs = [preprocess(im, size)[0] for im in images]
    if not clip:
        return [x[None] for x in xs]
    # Clips of consecutive calibration images (content changes, as in a moving camera).
    return [np.stack([xs[(i + k) % len(xs)] for k in range(clip)])[None] for i in range(len(xs))]


def _parity(run, eager: Predictor, inputs: list[np.ndarray]) -> dict:
    """Largest absolute differences of scores and boxes, and the share of top-100 (cell, class)
    pairs both agree on, over the inputs."""
    worst_s = worst_b = 0.0
    agree = []
    with torch.inference_mode():
        for x in inputs:
            ref = [t.numpy() for t in eager(torch.from_numpy(x))]
            got = run(x)
            worst_s = max(worst_s, float(np.abs(ref[0] - got[0]).max()))
            worst_b = max(worst_b, float(np.abs(ref[1] - got[1]).max()))
            top_r = set(np.argsort(-ref[0].ravel())[:100])
            top_g = set(np.argsort(-got[0].ravel())[:100])
            agree.append(len(top_r & top_g) / 100)
    return {"max_abs_score": worst_s, "max_abs_box_px": worst_b, "top100_agreement": float(np.mean(agree)), "images": len(inputs)}


def export(checkpoint: Path, out_dir: Path, formats: tuple[str, ...] = ("onnx",), name: str | None = None,
           calib_limit: int = 16, eval_split: str | None = None, eval_limit: int | None = None, threads: int = 2) -> ExportReport:
    from training.checkpoint import model_from, read
    for f in formats:
        if f not in FORMATS:
            raise ExportError(f"unknown export format {f!r}; choose from {', '.join(FORMATS)}")
    data = read(checkpoint)
    net, cfg, labels = model_from(data)
    step = data["step"]
    eval_split = eval_split or default_split(cfg)
    del data
    eager = Predictor(net).eval()
    size, clip = cfg.model.input_size, net.clip_frames
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or Path(checkpoint).stem
    images = calibration_images(cfg, limit=calib_limit)
    inputs = _inputs(images, size, clip)
    report = ExportReport()
    example = torch.from_numpy(inputs[0])
    onnx_path = out_dir / f"{name}.onnx"
    if "onnx" in formats or "int8" in formats:
        _export_onnx(eager, example, onnx_path)
        import onnxruntime as ort
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        report.parity["onnx"] = _parity(lambda x: sess.run(list(OUTPUT_NAMES[:2]), {"image": x}), eager, inputs)
        p = report.parity["onnx"]
        if not parity_ok(p, size):
            raise ExportError(f"the ONNX export does not match eager torch (score diff {p['max_abs_score']:.2e}, "
                              f"box diff {p['max_abs_box_px']:.3f} px); not written")
        report.files["onnx"] = str(onnx_path)
        _write_sidecar(onnx_path, cfg, net, checkpoint, step, report, labels)
        report.accuracy["fp32"] = _measure(onnx_path, cfg, eval_split, eval_limit, threads)
    if "torchscript" in formats:
        ts_path = out_dir / f"{name}.torchscript.pt"
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            traced = torch.jit.trace(eager, example, check_trace=False)
        traced.save(str(ts_path))
        loaded = torch.jit.load(str(ts_path))
        report.parity["torchscript"] = _parity(lambda x: [t.numpy() for t in loaded(torch.from_numpy(x))], eager, inputs)
        report.files["torchscript"] = str(ts_path)
    if "coreml" in formats:
        from training.export_mobile import export_coreml, missing_package, validate_coreml
        why = missing_package("coreml")
        if why:
            report.skipped["coreml"] = why
        else:
            path = export_coreml(eager, example, out_dir / f"{name}.mlpackage", OUTPUT_NAMES)
            with torch.inference_mode():
                ref = list(eager(example))
            report.checks["coreml"] = validate_coreml(path, example, ref, OUTPUT_NAMES)
            report.files["coreml"] = str(path)
    if "executorch" in formats:
        from training.export_mobile import ExecuTorchRunner, export_executorch, latency_ms, missing_package
        why = missing_package("executorch")
        if why:
            report.skipped["executorch"] = why
        else:
            path = export_executorch(eager, example, out_dir / f"{name}.pte")
            runner = ExecuTorchRunner(path)
            report.parity["executorch"] = _parity(runner, eager, inputs)
            p = report.parity["executorch"]
            if not parity_ok(p, size):
                path.unlink(missing_ok=True)
                raise ExportError(f"the ExecuTorch program does not match eager torch (score diff {p['max_abs_score']:.2e}, "
                                  f"box diff {p['max_abs_box_px']:.3f} px; the ONNX tolerance); not written")
            p["latency_ms_median"] = latency_ms(runner, inputs)
            with torch.inference_mode():
                p["eager_latency_ms_median"] = latency_ms(lambda x: eager(torch.from_numpy(x)), inputs)
            report.files["executorch"] = str(path)
    if "int8" in formats:
        int8_path = out_dir / f"{name}.int8.onnx"
        quantize_int8(onnx_path, int8_path, inputs)
        import onnxruntime as ort
        sess8 = ort.InferenceSession(str(int8_path), providers=["CPUExecutionProvider"])
        report.parity["int8"] = _parity(lambda x: sess8.run(list(OUTPUT_NAMES[:2]), {"image": x}), eager, inputs)
        report.files["int8"] = str(int8_path)
        _write_sidecar(int8_path, cfg, net, checkpoint, step, report, labels, quantised=True)
        a = report.accuracy
        a["int8"] = _measure(int8_path, cfg, eval_split, eval_limit, threads)
        a["change"] = {"mAP": a["int8"]["mAP"] - a["fp32"]["mAP"], "mAP50": a["int8"]["mAP50"] - a["fp32"]["mAP50"],
                       "latency_ratio": a["int8"]["latency_ms_median"] / max(a["fp32"]["latency_ms_median"], 1e-9)}
    (out_dir / f"{name}.export.json").write_text(json.dumps(report.__dict__, indent=1))
    return report


def _export_onnx(eager: Predictor, example: torch.Tensor, path: Path) -> None:
    """The TorchScript-based exporter (opset 17) gives a plain graph ONNX Runtime optimises well;
    the dynamo exporter is the fallback when it fails."""
    try:
        torch.onnx.export(eager, (example,), str(path), input_names=["image"], output_names=list(OUTPUT_NAMES),
                          opset_version=17, dynamo=False)
    except Exception as exc:   # noqa: BLE001 - any exporter failure: try the other exporter
        log.info("TorchScript-based ONNX export failed (%s); trying the dynamo exporter", exc)
        try:
            prog = torch.onnx.export(eager, (example,), input_names=["image"], output_names=list(OUTPUT_NAMES), dynamo=True)
            prog.save(str(path))
        except ImportError:
            raise ExportError("ONNX export needs onnxscript (pip install -e .[export])") from None


def sidecar_labels(labels: list[str]) -> str | list[str]:
    """What the sidecar's "labels" holds: "coco80" for a model with the COCO-80 classes (so COCO
    category ids stay those of coco80.json), else the model's own class names in output order."""
    from engine.models.registry import load_labels
    return "coco80" if list(labels) == load_labels("coco80")[0] else list(labels)


def _write_sidecar(path: Path, cfg, net, checkpoint, step: int, report: ExportReport, labels: list[str],
                   quantised: bool = False) -> None:
    if len(labels) != cfg.model.num_classes:
        raise ExportError(f"the checkpoint names {len(labels)} classes but its model has {cfg.model.num_classes} outputs")
    meta = {
        "name": path.stem, "onnx": path.name, "format": "maxsight-onnx-1",
        "description": f"MaxSight {cfg.model.preset} {cfg.model.backbone} {cfg.model.input_size}{' int8' if quantised else ''} "
                       f"(trained {cfg.name}, step {step})",
        "preset": cfg.model.preset, "backbone": cfg.model.backbone, "input_size": cfg.model.input_size,
        "clip_frames": net.clip_frames, "labels": sidecar_labels(labels), "num_classes": cfg.model.num_classes,
        "outputs": list(OUTPUT_NAMES), "checkpoint": str(Path(checkpoint).resolve()), "step": step,
        "parity": report.parity.get("int8" if quantised else "onnx", {}),
        "birth_score": 0.45, "keep_score": 0.25,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))


class _Calibration:
    def __init__(self, inputs):
        self.it = iter(inputs)

    def get_next(self):
        x = next(self.it, None)
        return None if x is None else {"image": x}


def quantize_int8(src: Path, dst: Path, inputs: list[np.ndarray]) -> None:
    """Static INT8 (QDQ, per-channel weights, MinMax activations) calibrated on real images."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    pre = dst.with_suffix(".pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    quantize_static(str(pre), str(dst), _Calibration(inputs), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                    op_types_to_quantize=["Conv", "MatMul", "Gemm"])
    pre.unlink(missing_ok=True)


def _measure(path: Path, cfg, split: str, limit: int | None, threads: int = 2) -> dict:
    """mAP, per-class AP, safety recall and latency of an export through the app's own runner; the
    score that gives 90% precision on hazard classes becomes the export's track-birth score (as
    measured for the built-in detectors), recorded with the metrics in its sidecar."""
    from engine.models.detectors import build
    from engine.models.registry import default_registry
    from training.evaluate import evaluate_dataset
    reg = default_registry(include_user=False)
    r = evaluate_dataset(cfg.resolve_all(cfg.data.val), split, build(reg.get(str(path)), reg, threads=threads), limit=limit)
    out = {"mAP": r["coco"]["mAP"], "mAP50": r["coco"]["mAP50"], "per_class": r["per_class"], "safety_recall": r["safety"]["all"],
           "threshold_90_precision": r["safety"]["threshold"], "latency_ms_median": r["latency_ms_median"],
           "images": r["images"], "boxes": r["boxes"], "split": split, "data": str(cfg.data.val)}
    meta_path = Path(path).with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["metrics"] = out
    if out["threshold_90_precision"] is not None:
        meta["birth_score"] = float(min(max(out["threshold_90_precision"], 0.2), 0.8))
        meta["keep_score"] = float(min(0.25, meta["birth_score"] / 2))
    meta_path.write_text(json.dumps(meta, indent=1))
    return out
