"""What several commands share: engine options, opening a profile, reporting a result (table on
stdout, JSON on request), and checking output paths before anything is written."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from engine.config import CameraModel, EngineConfig, Tier, collision_config, verify


class CommandError(Exception):
    """A problem with what the user asked for, as one sentence; the command exits with status 2."""


def note(message: str) -> None:
    print(f"maxsight: {message}", file=sys.stderr)


def engine_options(parser, tier_default: str | None = None) -> None:
    """--detector, --threads, --device, camera geometry and --tier, for every command that runs Stage A."""
    parser.add_argument("--detector", "--model", dest="detector", default=EngineConfig.detector,
                        help=f"{EngineConfig.detector} (default), nanodet, centernet, fused, a registered model, or a path to "
                             "an exported .onnx or a checkpoint .pt")
    parser.add_argument("--threads", type=int, default=2, help="compute threads for Stage A (default 2)")
    parser.add_argument("--device", default="auto", help="auto, cuda, mps or cpu")
    parser.add_argument("--hfov", type=float, default=CameraModel.hfov_deg, help="camera horizontal field of view, degrees")
    parser.add_argument("--camera-height", type=float, default=CameraModel.height_m, help="camera height above the floor, metres")
    parser.add_argument("--tilt", type=float, default=CameraModel.tilt_deg, help="camera tilt downwards, degrees")
    parser.add_argument("--access", default=ACCESS_MODEL, metavar="MODEL|off",
                        help=f"door, handle and stairs detector run beside the COCO one, five times a second "
                             f"(default {ACCESS_MODEL}; off to leave it out)")
    parser.add_argument("--collision", choices=("off", "on", "fewer", "more"), default=None,
                        help="warn of whatever is in the way, named or not, from image motion (an experiment; default: "
                             "the profile's setting in the window and `run`, off in evaluations and the soak). on = "
                             "fewer: what the fit chose (rendered walks at 10-30 fps: 80-85%% of obstacles warned, 0.3-1.1 "
                             "false onsets a minute); more: about 90%% warned, 1.1-2 false onsets a minute; "
                             "docs/measurements/issue23.md")
    default = tier_default or EngineConfig.tier.value
    parser.add_argument("--tier", default=default, choices=[t.value for t in Tier],
                        help=f"what runs besides Stage A (default {default}; T0: nothing; T1 sounds, T2 + captions, "
                             "T3 + text, T4 + your own objects)")


ACCESS_MODEL = "access"     # MaxSight's own door and stairs detector (assets/models/access_detector)


def engine_config(args, follow_profile: bool = False) -> EngineConfig:
    """The engine the options ask for. follow_profile: the window and `run`, where the collision
    lane follows the user's setting unless --collision chose it; evaluations and the soak keep it
    off unless --collision asks, so a setting picked once in the app never changes their numbers."""
    access = getattr(args, "access", ACCESS_MODEL)
    return verify(EngineConfig(detector=args.detector, threads=args.threads, device=args.device, tier=Tier(args.tier),
                               camera=CameraModel(hfov_deg=args.hfov, height_m=args.camera_height, tilt_deg=args.tilt),
                               access="" if access in ("off", "none", "") else access,
                               collision=collision_config(getattr(args, "collision", None) or "off"),
                               collision_from_profile=follow_profile and getattr(args, "collision", None) is None))


def open_profile(name: str | None):
    """(store, user id) for --profile NAME; the 'default' profile is created on first use."""
    from maxsight_app.profile.store import ProfileError, ProfileStore, default_path
    store = ProfileStore(default_path())
    if store.recovered_to:
        note(f"the profile database was damaged; it was kept as {store.recovered_to} and a new one started")
    name = name or "default"
    uid = store.find_user(name)
    if uid is None:
        if name != "default":
            store.close()
            raise ProfileError(f"there is no profile called {name!r}; create it with `maxsight profile create {name}`")
        try:
            uid = store.create_user(name)
        except ValueError:                    # another process created it in between
            uid = store.find_user(name)
    return store, uid


def read_profile(name: str | None):
    """The Profile of --profile NAME, read once (the store is closed again)."""
    store, uid = open_profile(name)
    try:
        return store.profile(uid)
    finally:
        store.close()


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_outputs(outputs: dict[str, Path | None], inputs: dict[str, Path | None]) -> None:
    """Refuse, in one sentence, an output that is a folder or not a regular file (a FIFO would
    hang), one of MaxSight's own files (the profile database, the model cache, the assets), sits
    in a missing or read-only folder, or would overwrite an input or another output. Nothing is
    written by this check."""
    from maxsight_app.files import check_target
    outs = {k: Path(v) for k, v in outputs.items() if v is not None}
    ins = {k: Path(v) for k, v in inputs.items() if v is not None and not str(v).isdigit()}
    for name, p in outs.items():
        check_target(name, p)
        for other, q in ins.items():
            if _same(p, q):
                raise CommandError(f"{name} {p} is the same file as {other}; it would be overwritten")
    names = list(outs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if _same(outs[a], outs[b]):
                raise CommandError(f"{a} and {b} are the same file ({outs[a]}); give them different names")


def check_output_folder(name: str, path: Path | str | None) -> None:
    """Refuse, in one sentence, an output folder that is a file, inside MaxSight's own files, or
    cannot be created or written. Nothing is written by this check."""
    if path is not None:
        from maxsight_app.files import check_folder
        check_folder(name, Path(path))


def write_json(path: str | Path, data) -> None:
    """Atomically: a killed command or a full disk never leaves half a JSON file."""
    from maxsight_app.files import atomic
    def plain(o):                            # numpy numbers and arrays from the measuring code
        if hasattr(o, "tolist"):
            return o.tolist()
        if hasattr(o, "item"):
            return o.item()
        raise TypeError(f"{type(o).__name__} is not JSON")
    text = json.dumps(data, indent=1, default=plain)
    with atomic(Path(path), encoding="utf-8") as f:
        f.write(text)


def report(table: str, result, json_path: str | None) -> int:
    if json_path:
        check_outputs({"--json": Path(json_path)}, {})
    print(table)
    if json_path:
        write_json(json_path, result)
        print(f"JSON written to {json_path}")
    return 0


def torch_available() -> bool:
    """Whether torch is installed, without importing it (that takes seconds and ~860 MB)."""
    import importlib.util
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


NEEDS_TORCH = "training and export need torch: run `scripts/setup.sh --training` (or pip install -e '.[training,export]')"
