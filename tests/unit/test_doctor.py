"""`maxsight doctor` on this machine: it names what is really missing (asked of the system here, not
assumed), exits 0 when only optional things are missing and 1 when something required is broken
(a damaged model in a scratch cache, a damaged profile database), and its JSON agrees with its text."""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from maxsight_app import doctor
from maxsight_app.doctor import FAIL, MISSING, OK, Check, Report, satisfies


def _doctor(tmp_path, *args, **env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MAXSIGHT_BUNDLED_MODELS")}
    env.update({"MAXSIGHT_DATA": str(tmp_path / "data")}, **env_extra)
    return subprocess.run([sys.executable, "-m", "maxsight_app", "doctor", *args], capture_output=True, text=True,
                          env=env, timeout=180, cwd=tmp_path)


def _lines(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        status, _, rest = line.partition(" ")
        name = rest.strip().split(":")[0]
        if status in ("ok", "missing", "warning", "FAILED"):
            out[name] = status
    return out


def _scratch_cache(tmp_path, names=("nanodet",)):
    """A cache holding copies of the installed models `names`, with their manifest entries."""
    from engine.models.registry import models_dir
    src = models_dir()
    if not (src / "manifest.json").is_file():
        pytest.skip("models not installed; run `maxsight models fetch`")
    from engine.models.registry import default_registry
    manifest = json.loads((src / "manifest.json").read_text())
    dst = tmp_path / "cache" / "models"
    dst.mkdir(parents=True)
    keep = {}
    for name in names:
        spec = default_registry(include_user=False).get(name)
        for rel in [spec.onnx_file, *spec.files]:
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, dst / rel)
        keep[name] = manifest[name]
    (dst / "manifest.json").write_text(json.dumps(keep))
    return dst


@pytest.fixture
def detector_installed():
    """The default detector installed in the user cache (other models may be missing)."""
    from engine.models.registry import default_registry, installed_path
    if installed_path(default_registry(include_user=False).get("nanodet")) is None:
        from tests.conftest import _missing
        _missing("the nanodet model is not installed; run `maxsight models fetch`")


def test_versions_compare_as_pyproject_writes_them():
    assert satisfies("6.11.3", "==6.11.3") and not satisfies("6.12.0", "==6.11.3")
    assert satisfies("2.1.0", ">=1.26") and not satisfies("1.25.2", ">=1.26")
    assert satisfies("1.2", ">=1.2,<2") and not satisfies("2.0", ">=1.2,<2")
    assert satisfies("5.0.0.93", ">=4.9") and satisfies("1.32.0", ">=1.18")
    assert satisfies("2.14.1+cu128", "==2.14.1")


def test_on_this_machine_missing_devices_are_named_and_optional(tmp_path, detector_installed):
    r = _doctor(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = _lines(r.stdout)
    # What this machine really has, asked independently of the doctor.
    if not glob.glob("/dev/video*"):
        assert lines["Camera"] == "missing" and "no camera" in r.stdout
    if not os.path.isdir("/dev/snd"):
        assert lines["Sound output"] == "missing" and lines["Microphone"] == "missing"
        assert "cues go to your screen reader" in r.stdout
    if not glob.glob("/dev/input/js*") and not glob.glob("/dev/input/event*"):
        assert lines["Game controllers"] == "missing" and "no game controller" in r.stdout
    assert lines["Display"] == "missing"                      # DISPLAY was removed from its environment
    for required in ("Python", "Python packages", "ONNX Runtime", "Model nanodet", "Profile database", "Free disk"):
        assert lines[required] == "ok", r.stdout
    for line in r.stdout.splitlines():
        if line.startswith("missing"):
            assert "(optional)" in line and " Fix: " in line, line
    assert r.stdout.strip().splitlines()[-1].startswith("MaxSight can run")


def test_a_damaged_required_model_fails_with_the_fix(tmp_path):
    cache = _scratch_cache(tmp_path)
    p = cache / "nanodet.onnx"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 1
    p.write_bytes(bytes(data))
    r = _doctor(tmp_path, MAXSIGHT_CACHE=str(cache.parent))
    assert r.returncode == 1, r.stdout
    line = next(ln for ln in r.stdout.splitlines() if "Model nanodet" in ln)
    assert line.startswith("FAILED") and "damaged" in line and "Fix: run `maxsight models fetch` to repair it" in line
    # The other models are merely absent from this scratch cache: optional, named, with the fetch command.
    yam = next(ln for ln in r.stdout.splitlines() if "Model yamnet" in ln)
    assert yam.startswith("missing") and "--tarball" in yam
    assert "problem" in r.stdout.strip().splitlines()[-1]


def test_only_optional_models_missing_still_passes(tmp_path):
    cache = _scratch_cache(tmp_path)
    r = _doctor(tmp_path, MAXSIGHT_CACHE=str(cache.parent))
    assert r.returncode == 0, r.stdout
    lines = _lines(r.stdout)
    assert lines["Model nanodet"] == "ok" and lines["Model yamnet"] == "missing" and lines["Model centernet"] == "missing"


def test_the_default_detector_missing_fails(tmp_path):
    r = _doctor(tmp_path, MAXSIGHT_CACHE=str(tmp_path / "empty"))
    assert r.returncode == 1
    assert _lines(r.stdout)["Model nanodet"] == "FAILED"


def test_a_damaged_profile_database_fails_and_is_left_alone(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = data / "profiles.db"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    before = db.read_bytes()
    r = _doctor(tmp_path)
    line = next(ln for ln in r.stdout.splitlines() if "Profile database" in ln)
    assert r.returncode == 1 and line.startswith("FAILED") and "profile import" in line
    assert db.read_bytes() == before and sorted(p.name for p in data.iterdir()) == ["profiles.db"]


def test_json_agrees_with_the_text(tmp_path, detector_installed):
    r = _doctor(tmp_path, "--json")
    data = json.loads(r.stdout)
    assert data["ok"] is (r.returncode == 0)
    assert {c["name"] for c in data["checks"]} >= {"Python", "Camera", "Sound output", "Model nanodet", "ONNX Runtime"}
    assert all(c["status"] in ("ok", "missing", "warning", "fail") for c in data["checks"])
    assert all(c["fix"] for c in data["checks"] if c["status"] != "ok")
    out = tmp_path / "doctor.json"
    r2 = _doctor(tmp_path, "--json", str(out))
    assert json.loads(out.read_text())["counts"] == data["counts"] and "JSON written" in r2.stdout


def test_a_wrong_package_version_and_a_clash_are_failures(monkeypatch):
    monkeypatch.setattr(doctor, "requirements", lambda extras=("app",): {"numpy": "==0.1", "no-such-package-maxsight": ">=1"})
    c = doctor.check_packages()
    assert c.status == FAIL and "wrong version numpy" in c.detail and "missing no-such-package-maxsight>=1" in c.detail
    monkeypatch.setattr(doctor, "CLASHES", {"numpy": "something else"})
    monkeypatch.setattr(doctor, "requirements", lambda extras=("app",): {})
    c = doctor.check_packages()
    assert c.status == FAIL and "clashing numpy" in c.detail and c.fix.startswith("pip uninstall -y numpy")


def test_a_qt_plugin_that_cannot_load_names_its_missing_libraries(tmp_path, monkeypatch):
    real = doctor._pyside_dir()
    if real is None or shutil.which("ldd") is None:
        pytest.skip("PySide6 or ldd is not here")
    plugin = next(Path(real).rglob("platforms/libqxcb.so"))
    fake = tmp_path / "PySide6" / "Qt" / "plugins" / "platforms"
    fake.mkdir(parents=True)
    shutil.copyfile(plugin, fake / "libqxcb.so")          # away from the Qt libraries its RPATH points to
    monkeypatch.setattr(doctor, "_pyside_dir", lambda: tmp_path / "PySide6")
    c = doctor.check_qt_plugin()
    assert c.status == FAIL and "libQt6XcbQpa.so.6" in c.detail and c.fix.startswith("sudo apt-get install")
    monkeypatch.setattr(doctor, "_pyside_dir", lambda: real)
    assert doctor.check_qt_plugin().status == OK


def test_a_check_that_raises_is_a_failure_not_a_crash(monkeypatch):
    def boom():
        raise RuntimeError("simulated")
    monkeypatch.setattr(doctor, "check_onnxruntime", boom)
    monkeypatch.setattr(doctor, "check_models", lambda registry=None: [Check("Model x", OK, "fine")])
    report = doctor.run_checks()
    bad = [c for c in report.checks if c.name == "ONNX Runtime"]
    assert bad and bad[0].status == FAIL and "simulated" in bad[0].detail and not report.ok


def test_report_lines_and_summary():
    r = Report((Check("A", OK, "fine"), Check("B", MISSING, "none here", "plug one in", required=False)))
    assert r.ok and r.text().splitlines()[1] == "missing  B: none here (optional) Fix: plug one in"
    assert "1 optional thing missing" in r.summary()
    r = Report((Check("A", FAIL, "broken", "repair it"),))
    assert not r.ok and r.text().splitlines()[0] == "FAILED   A: broken Fix: repair it"


def test_the_text_reader_is_optional_and_its_fix_keeps_no_deps(monkeypatch):
    real = doctor._installed
    monkeypatch.setattr(doctor, "_installed", lambda name: None if name == "rapidocr-onnxruntime" else real(name))
    c = doctor.check_text_reader()
    assert c.status == MISSING and not c.required and "reading text (T) is off" in c.detail
    assert "--no-deps" in c.fix and "opencv-python" in c.fix
    monkeypatch.setattr(doctor, "_installed", lambda name: "1.3.0" if name == "rapidocr-onnxruntime" else real(name))
    assert doctor.check_text_reader().status == "warning"


def test_a_vibration_port_named_in_a_profile_but_absent_is_a_warning(tmp_path, monkeypatch):
    from maxsight_app.profile.store import ProfileStore
    monkeypatch.setenv("MAXSIGHT_DATA", str(tmp_path))
    store = ProfileStore(tmp_path / "profiles.db")
    store.create_user("default")
    store.set_preference(1, "haptic_port", "/dev/ttyUSB7")
    store.close()
    assert doctor._profile_haptic_port() == "/dev/ttyUSB7"
    c = doctor.check_serial(doctor._profile_haptic_port())
    if not os.path.exists("/dev/ttyUSB7"):
        assert c.status == "warning" and "/dev/ttyUSB7, which is not connected" in c.detail and "Settings" in c.fix
