"""A training checkpoint run as an engine Detector (eager torch): what `maxsight eval detect
--model run/last.pt`, the post-training evaluation and `maxsight run --model ckpt.pt` use.
Preprocessing and decoding are the ONNX runner's own (engine/models/detectors/maxsight.py)."""
from __future__ import annotations

import collections

import numpy as np
import torch

from engine.models.detectors import Detector
from engine.models.detectors.maxsight import decode, preprocess
from engine.models.registry import ModelSpec


class TorchDetector(Detector):
    def __init__(self, predictor, size: int, clip: int, labels: list[str], name: str, device: str = "cpu", threads: int | None = None):
        self.predictor, self.size, self.clip, self.labels, self.name = predictor, size, clip, labels, name
        self.spec = ModelSpec(name=name, family="maxsight-checkpoint", description="MaxSight checkpoint", input_size=size)
        self.device = torch.device("cuda" if device == "cuda" and torch.cuda.is_available() else "cpu")
        self.predictor.to(self.device)
        if threads:
            torch.set_num_threads(threads)
        self.frames: collections.deque = collections.deque(maxlen=max(clip, 1))

    @staticmethod
    def from_checkpoint(path, threads: int | None = None, device: str = "cpu", name: str | None = None) -> "TorchDetector":
        from training.checkpoint import model_from
        from training.model import Predictor
        net, cfg, labels = model_from(path)
        return TorchDetector(Predictor(net).eval(), cfg.model.input_size, net.clip_frames, labels, name or str(path), device, threads)

    def prepare(self, image):
        x, lb = preprocess(image, self.size)
        if not self.clip:
            return x[None], lb
        if not self.frames:
            self.frames.extend([x] * self.clip)
        self.frames.append(x)
        return np.stack(self.frames)[None], lb

    @torch.inference_mode()
    def infer(self, prepared):
        x, _ = prepared
        scores, boxes, *_ = self.predictor(torch.from_numpy(x).to(self.device))
        return scores[0].float().cpu().numpy(), boxes[0].float().cpu().numpy()

    def decode(self, outputs, prepared, width, height, min_score):
        return decode(outputs[0], outputs[1], prepared[1], width, height, min_score)
