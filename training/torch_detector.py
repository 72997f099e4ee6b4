"""A training checkpoint run as an engine Detector (eager torch): what `maxsight eval detect
--model run/last.pt`, the post-training evaluation and `maxsight run --model ckpt.pt` use.
Preprocessing and decoding are the ONNX runner's own (engine/models/detectors/maxsight.py)."""
from __future__ import annotations

import torch

from engine.models.detectors.maxsight import MaxSightDetector
from engine.models.registry import ModelSpec


class TorchDetector(MaxSightDetector):
    def __init__(self, predictor, size: int, clip: int, labels: list[str], name: str, device: str = "cpu", threads: int | None = None):
        self.predictor, self.size, self.clip, self.labels, self.name = predictor, size, clip, labels, name
        self.spec = ModelSpec(name=name, family="maxsight-checkpoint", description="MaxSight checkpoint", input_size=size)
        self.device = torch.device("cuda" if device == "cuda" and torch.cuda.is_available() else "cpu")
        self.predictor.to(self.device)
        if threads:
            torch.set_num_threads(threads)
        self._start_clip()

    @staticmethod
    def from_checkpoint(path, threads: int | None = None, device: str = "cpu", name: str | None = None) -> "TorchDetector":
        from training.checkpoint import model_from
        from training.model import Predictor
        net, cfg, labels = model_from(path)
        return TorchDetector(Predictor(net).eval(), cfg.model.input_size, net.clip_frames, labels, name or str(path), device, threads)

    @torch.inference_mode()
    def infer(self, prepared):
        x, _ = prepared
        scores, boxes, *_ = self.predictor(torch.from_numpy(x).to(self.device))
        return scores[0].float().cpu().numpy(), boxes[0].float().cpu().numpy()


FAMILY = "maxsight-checkpoint"


def make(spec, registry, threads: int, device: str) -> TorchDetector:
    """The registry factory for training checkpoints (added by the app when torch is installed)."""
    from engine.models.registry import verified_path
    return TorchDetector.from_checkpoint(verified_path(spec), threads=threads, device=device, name=spec.name)
