"""Shared set-up for the training tests: a tiny but real configuration (MobileNetV2 with its
ImageNet weights, 96 px, a few iterations on the dev half of the COCO evaluation set)."""
from __future__ import annotations

import pytest


def tiny(tmp_path, **over) -> dict:
    cfg = {
        "name": "tiny", "out": str(tmp_path / "run"), "seed": 0, "log_every": 1, "evaluate": False,
        "model": {"preset": "t0", "backbone": "mobilenet_v2", "pretrained": True, "norm": "frozen_bn", "input_size": 96,
                  "fpn_channels": 32, "head_stride": 16, "tower_convs": 1,
                  "vit": {"dim": 32, "depth": 2, "heads": 2, "patch": 16}, "temporal": {"hidden": 16, "frames": 3}},
        "data": {"train": "eval:coco_val2017_128", "train_split": "dev", "val": "eval:coco_val2017_128", "val_split": "dev",
                 "augment": {"mosaic": 0.3, "condition": 0.3}},
        "optim": {"lr": 0.002, "epochs": 1, "iters_per_epoch": 3, "batch": 2, "warmup_iters": 1, "ema": 0.9},
    }
    for key, value in over.items():
        node = cfg
        *path, last = key.split("__")
        for p in path:
            node = node.setdefault(p, {})
        node[last] = value
    return cfg


@pytest.fixture
def tiny_cfg(tmp_path):
    from training.config import from_dict
    return lambda **over: from_dict(tiny(tmp_path, **over))
