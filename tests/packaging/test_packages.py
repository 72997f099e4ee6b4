"""The packages packaging/build.sh makes, built and used as a user would (slow: the build takes minutes).

  * the wheel: installed in the build environment, MaxSight runs from site-packages alone;
  * the bundle: runs where no Python is visible (a mount namespace hides every Python and the source
    tree), gives the same hazards as the source tree over a real video, finds its bundled models, speaks
    its first cue within the target, and opens its window under a real X server (first-run set-up on top);
  * the .deb (as root): apt installs it with its dependencies, the menu entry starts the window and the
    set-up, the installed command gives the same hazards, and apt remove / dpkg --purge leave the
    user's profiles where they are.

Numbers (sizes, build seconds, start to first cue, apt install to set-up) go to
test-output/packaging.json. MAXSIGHT_REUSE_PACKAGES=1 tests dist/ as it is instead of building."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import IN_CI, _missing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2700)]

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("MAXSIGHT_DIST_DIR", ROOT / "dist"))
WORK = Path(os.environ.get("MAXSIGHT_BUILD_DIR", ROOT / "build" / "packaging"))
OUT = ROOT / "test-output"
VIDEO = ("videos_walking_driving", "udacity_vehicle-detection_test_video.mp4")   # a car cue in its first frames
DESKTOP_ID = "io.github.maxsight.MaxSight"
NUMBERS: dict = {}


def _record(**kw) -> None:
    NUMBERS.update(kw)
    OUT.mkdir(exist_ok=True)
    path = OUT / "packaging.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**old, **NUMBERS}, indent=1))


@pytest.fixture(scope="module")
def built():
    version = next(line.split('"')[1] for line in (ROOT / "pyproject.toml").read_text().splitlines() if line.startswith("version ="))
    if shutil.which("dpkg-deb") is None:
        _missing("building the .deb needs dpkg-deb (Debian's dpkg)")
    reuse = os.environ.get("MAXSIGHT_REUSE_PACKAGES") == "1"
    if not reuse:
        _enough_disk_to_build()
        t0 = time.monotonic()
        ok = False
        try:
            r = subprocess.run(["packaging/build.sh"], cwd=ROOT, capture_output=True, text=True, timeout=2400)
            ok = r.returncode == 0
        finally:
            if not ok:           # a half-made build must not take the disk the rest of the suite needs
                _remove_build(version)
        assert ok, (r.stdout[-4000:] + r.stderr[-4000:])
        _record(build_wall_s=round(time.monotonic() - t0, 1), skipped_low_disk=None)
    report = json.loads((DIST / "build-report.json").read_text())
    _record(build=report)
    yield SimpleNamespace(version=version, report=report, wheel=DIST / f"maxsight-{version}-py3-none-any.whl",
                          sdist=DIST / f"maxsight-{version}.tar.gz", bundle=DIST / f"maxsight-{version}-linux-x86_64",
                          deb=DIST / f"maxsight_{version}_amd64.deb", venv=WORK / "venv")
    if IN_CI and not reuse:
        _remove_build(version)   # CI's clone is thrown away: give the ~3 GB back to the tests that follow


# What a build and these tests hold at once: the build environment (~1.5 GB, more while pip unpacks),
# the bundle (~1.5 GB), the .deb, and the installed .deb under /opt; plus room for the rest of the suite.
BUILD_NEEDS_GB = 8.0


def _existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _enough_disk_to_build() -> None:
    where = [WORK, DIST, Path(tempfile.gettempdir()), Path("/opt")]
    free_gb = min(shutil.disk_usage(_existing(p)).free for p in where) / 1e9
    if free_gb < BUILD_NEEDS_GB:
        # The machine's disk, not the project: skipped in CI too (or nothing else would be tested),
        # with the numbers, and recorded beside the packaging figures.
        why = f"building the packages needs about {BUILD_NEEDS_GB:.0f} GB of free disk; {free_gb:.1f} GB is free here"
        _record(skipped_low_disk=why)
        pytest.skip(why)


def _remove_build(version: str) -> None:
    """What build.sh made for this version, and nothing else (its logs are kept in test-output/)."""
    OUT.mkdir(exist_ok=True)
    for log in WORK.glob("*.log"):
        shutil.copy(log, OUT / f"packaging-{log.name}")
    for sub in ("venv", "pyi", "dist", "deb", "models"):
        shutil.rmtree(WORK / sub, ignore_errors=True)
    for name in (f"maxsight-{version}-py3-none-any.whl", f"maxsight-{version}.tar.gz", f"maxsight_{version}_amd64.deb"):
        (DIST / name).unlink(missing_ok=True)
    shutil.rmtree(DIST / f"maxsight-{version}-linux-x86_64", ignore_errors=True)


@pytest.fixture(scope="module")
def video(eval_data):
    return eval_data.joinpath(*VIDEO)


def _hazards(jsonl: Path) -> list[list[tuple]]:
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    return [[(h["track_id"], h["label"], h["urgency"], h["clock"], round(h["distance_m"], 1)) for h in r["hazards"]]
            for r in rows]


def _cues(jsonl: Path) -> list[str]:
    return [c["text"] for line in jsonl.read_text().splitlines() for c in json.loads(line)["cues"]]


@pytest.fixture(scope="module")
def source_run(tmp_path_factory, video):
    """The source tree's own run over the video: what every package must reproduce."""
    d = tmp_path_factory.mktemp("src")
    r = subprocess.run([sys.executable, "-m", "maxsight_app", "run", "--source", str(video), "--headless", "--tier", "T0",
                        "--max-frames", "40", "--threads", "1", "--out", str(d / "src.jsonl")],
                       capture_output=True, text=True, timeout=600, cwd=ROOT,
                       env=dict(os.environ, MAXSIGHT_DATA=str(d / "data")))
    assert r.returncode == 0, r.stderr[-2000:]
    return d / "src.jsonl"


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MAXSIGHT_BUNDLED"))}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env.update(extra)
    return env


# -- wheel and sdist --------------------------------------------------------------------------
def test_wheel_and_sdist_hold_what_running_needs(built):
    names = zipfile.ZipFile(built.wheel).namelist()
    for need in ("assets/labels/coco80.json", "assets/icons/maxsight.svg", "assets/icons/maxsight-16.png",
                 "maxsight_app/ui/first_run.py", "maxsight_app/doctor.py", "engine/models/registry.py"):
        assert need in names, need
    assert not any(n.startswith("tests/") for n in names)
    meta = zipfile.ZipFile(built.wheel).read(f"maxsight-{built.version}.dist-info/METADATA").decode()
    assert "Requires-Dist: PySide6-Essentials==6.11.3; extra == \"app\"" in meta
    assert "Requires-Dist: opencv-python-headless" in meta and "Requires-Dist: opencv-python>" not in meta
    assert "torch" not in [line.split()[1] for line in meta.splitlines() if line.startswith("Requires-Dist:")
                           and "extra ==" not in line]
    members = tarfile.open(built.sdist).getnames()
    assert f"maxsight-{built.version}/packaging/build.sh" in members and f"maxsight-{built.version}/pyproject.toml" in members
    _record(size_mb={p.name: round(p.stat().st_size / 1e6, 2) for p in (built.wheel, built.sdist)})


def test_the_installed_wheel_runs_from_site_packages_alone(built, source_run, video, tmp_path):
    py = built.venv / "bin" / "python"
    r = subprocess.run([str(py), "-c", "import json, engine, maxsight_app, assets, training; "
                        "print(json.dumps([m.__file__ for m in (engine, maxsight_app, assets, training)]))"],
                       capture_output=True, text=True, cwd=tmp_path, env=_clean_env(), timeout=120)
    files = json.loads(r.stdout)
    site = (built.venv / "lib").resolve()
    assert all(Path(f).resolve().is_relative_to(site) for f in files), files
    r = subprocess.run([str(built.venv / "bin" / "maxsight"), "run", "--source", str(video), "--headless", "--tier", "T0",
                        "--max-frames", "40", "--threads", "1", "--out", str(tmp_path / "w.jsonl")], capture_output=True,
                       text=True, cwd=tmp_path, env=_clean_env(MAXSIGHT_DATA=str(tmp_path / "data")), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _hazards(tmp_path / "w.jsonl") == _hazards(source_run)


# -- the bundle -------------------------------------------------------------------------------
HIDE = ["/root/.pyenv", "/usr/lib/python3", "/usr/lib/python3.11", "/usr/local/lib/python3.11", str(ROOT / ".venv"),
        str(WORK / "venv"), str(ROOT / "engine"), str(ROOT / "maxsight_app"), str(ROOT / "assets"), str(ROOT / "training")]


def _without_python(argv: list[str]) -> list[str]:
    """argv run in a mount namespace where every Python (and the source tree) is hidden, when this
    machine allows one (root, unshare); else argv itself, with a note in the numbers."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        _record(no_python_namespace=False)
        return argv
    script = ["set -e"]
    script += [f'[ -d "{d}" ] && mount -t tmpfs -o size=1m none "{d}" || true' for d in HIDE]
    script += [f'[ -e "{b}" ] && mount --bind /dev/null "{b}" || true' for b in ("/usr/bin/python3", "/usr/bin/python3.11")]
    script += ['! python3 -c 1 2>/dev/null || { echo "python3 still runs" >&2; exit 97; }', 'exec "$@"']
    _record(no_python_namespace=True)
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", "\n".join(script), "sh"] + argv


def test_bundle_runs_with_no_python_and_gives_the_source_trees_hazards(built, source_run, video, tmp_path):
    exe = built.bundle / "maxsight"
    r = subprocess.run(_without_python([str(exe), "run", "--source", str(video), "--headless", "--tier", "T0",
                                        "--max-frames", "40", "--threads", "1", "--out", str(tmp_path / "b.jsonl")]),
                       capture_output=True, text=True, cwd=tmp_path, env=_clean_env(MAXSIGHT_DATA=str(tmp_path / "data"),
                                                                                   MAXSIGHT_CACHE=str(tmp_path / "cache")),
                       timeout=600)
    assert r.returncode == 0, r.stdout[-1000:] + r.stderr[-2000:]
    assert _hazards(tmp_path / "b.jsonl") == _hazards(source_run)
    assert _cues(tmp_path / "b.jsonl") == _cues(source_run) and _cues(source_run)
    assert not (tmp_path / "cache" / "models").exists()            # its own models: nothing fetched
    # Its doctor finds everything inside the bundle (with an empty user cache).
    r = subprocess.run(_without_python([str(exe), "doctor", "--json"]), capture_output=True, text=True, cwd=tmp_path,
                       env=_clean_env(MAXSIGHT_DATA=str(tmp_path / "data"), MAXSIGHT_CACHE=str(tmp_path / "cache")), timeout=300)
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    for name in ("Model nanodet", "Model yamnet", "Model mobilenet_v2"):
        assert checks[name]["status"] == "ok" and "came with MaxSight" in checks[name]["detail"]
    for name in ("Python packages", "Qt platform plugin", "Speech voices", "ONNX Runtime"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "torch" not in {p.name.split("-")[0] for p in (built.bundle / "_internal").iterdir()}


def test_bundle_start_to_first_spoken_cue(built, video, tmp_path):
    """Paced like a camera (--realtime), speaking (espeak-ng into a WAV timeline: no sound card here)."""
    out = tmp_path / "r.jsonl"
    argv = [str(built.bundle / "maxsight"), "run", "--source", str(video), "--headless", "--tier", "T0", "--realtime",
            "--speak", "--audio-out", str(tmp_path / "heard.wav"), "--max-frames", "150", "--out", str(out)]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=tmp_path, env=_clean_env(MAXSIGHT_DATA=str(tmp_path / "data")),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    try:
        while time.monotonic() - t0 < 120 and p.poll() is None:
            if out.exists():
                for line in out.read_text().splitlines():
                    try:
                        cues = json.loads(line)["cues"]
                    except ValueError:
                        break                       # a line being written
                    if cues:
                        first = (time.monotonic() - t0, cues[0]["text"])
                        break
            if first:
                break
            time.sleep(0.05)
        # The WAV timeline writes its list of what played once a second of video has passed.
        heard_json = tmp_path / "heard.json"
        end = time.monotonic() + 30
        while first and p.poll() is None and time.monotonic() < end and not (
                heard_json.exists() and json.loads(heard_json.read_text() or "{}").get("played")):
            time.sleep(0.2)
    finally:
        p.terminate()
        p.wait(30)
    assert first is not None, "no cue within 120 s"
    _record(bundle_start_to_first_spoken_cue_s=round(first[0], 2), first_cue=first[1])
    heard = json.loads(heard_json.read_text())["played"]
    assert heard and heard[0]["text"].startswith(first[1])    # rendered as speech into the timeline (a warning may cut it)
    assert first[0] <= 10.0, f"first spoken cue after {first[0]:.1f} s (target 10 s)"


def _x_session(tmp_path):
    from tests.desktop.xsession import XSession, missing_tools
    missing = [t for t in missing_tools() if t != "python3-pyatspi"]
    if missing:
        _missing(f"a real X session needs {', '.join(missing)} (scripts/setup.sh --dev installs them)")
    return XSession(workdir=tmp_path / "x").start()


def _first_run_done(db: Path) -> bool:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return bool(con.execute("SELECT first_run_done FROM preferences").fetchone()[0])
    finally:
        con.close()


def test_bundle_window_opens_on_a_video_with_the_set_up_on_top(built, video, tmp_path):
    session = _x_session(tmp_path)
    try:
        t0 = time.monotonic()
        app = session.spawn("bundle", [str(built.bundle / "maxsight"), "--source", str(video)],
                            env={"MAXSIGHT_DATA": str(tmp_path / "data"), "PYTHONPATH": ""})
        session.window_id("^MaxSight$", timeout=120)
        t_window = time.monotonic() - t0
        wizard = session.window_id("^MaxSight set-up", timeout=60)
        t_wizard = time.monotonic() - t0
        _record(bundle_window_s=round(t_window, 2), bundle_set_up_s=round(t_wizard, 2))
        OUT.mkdir(exist_ok=True)
        time.sleep(2)                                      # let the set-up paint its first step
        session.screenshot(OUT / "bundle_first_run.png")
        session.activate(wizard)
        session.key("Escape")                              # skip the set-up: said, and never shown again
        from tests.desktop.xsession import wait_for
        wait_for(lambda: not session._out(["xdotool", "search", "--onlyvisible", "--name", "^MaxSight set-up"]).strip(),
                 30, "the set-up closing")
        wait_for(lambda: _first_run_done(tmp_path / "data" / "profiles.db"), 10, "first_run_done being saved")
        assert app.poll() is None, "the window exited"
        session.end(app)
    finally:
        session.stop()


def test_bundle_set_up_is_finished_with_enter_alone_under_x(built, video, tmp_path):
    """As a screen-reader user does it: Return on each step, nothing else; the models step checks the
    bundled models (no download) before Return moves on."""
    from maxsight_app.ui.first_run import STEPS, TITLES
    from tests.desktop.xsession import wait_for
    session = _x_session(tmp_path)
    try:
        app = session.spawn("enter", [str(built.bundle / "maxsight"), "--source", str(video)],
                            env={"MAXSIGHT_DATA": str(tmp_path / "data"), "MAXSIGHT_CACHE": str(tmp_path / "cache")})
        session.window_id("^MaxSight set-up", timeout=120)
        titles = []
        for _ in range(len(STEPS) + 3):
            name = wait_for(lambda: session.active_window_name() or None, 30, "a focused window")
            if not name.startswith("MaxSight set-up"):
                break
            titles.append(name)
            t0 = time.monotonic()
            while session.active_window_name() == name and time.monotonic() - t0 < 90:
                session.key("Return")           # on the models step, Return waits until they are checked
                time.sleep(1.0)
        n = len(STEPS)
        # With no sound device (CI) the set-up offers no voice step: MaxSight's own voice cannot be heard.
        from maxsight_app.doctor import check_sound_output
        no_sound = check_sound_output().status != "ok"
        assert titles == [f"MaxSight set-up: {TITLES[s]} (step {i + 1} of {n})" for i, s in enumerate(STEPS)
                          if not (s == "voice" and no_sound)]
        wait_for(lambda: _first_run_done(tmp_path / "data" / "profiles.db"), 10, "first_run_done being saved")
        assert session.active_window_name() == "MaxSight" and app.poll() is None
        fetched = [f for f in (tmp_path / "cache").rglob("*") if f.is_file() and f.suffix in (".onnx", ".data", ".pth")]
        assert fetched == []                                          # the bundled models sufficed
        session.end(app)
    finally:
        session.stop()


# -- the .deb ---------------------------------------------------------------------------------
def _deb_field(deb: Path, field: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True, check=True).stdout.strip()


def test_deb_contents_menu_entry_and_metadata(built, tmp_path):
    listing = subprocess.run(["dpkg-deb", "-c", str(built.deb)], capture_output=True, text=True, check=True).stdout
    for path in ("./opt/maxsight/maxsight", "./usr/bin/maxsight -> /opt/maxsight/maxsight",
                 f"./usr/share/applications/{DESKTOP_ID}.desktop", f"./usr/share/metainfo/{DESKTOP_ID}.metainfo.xml",
                 "./usr/share/icons/hicolor/16x16/apps/maxsight.png", "./usr/share/icons/hicolor/scalable/apps/maxsight.svg",
                 "./opt/maxsight/_internal/models/nanodet.onnx", "./opt/maxsight/_internal/espeak-ng-data/",
                 "./usr/share/doc/maxsight/copyright"):
        assert path in listing, path
    assert "/_internal/models/centernet" not in listing       # its upstream licence is unconfirmed
    depends = _deb_field(built.deb, "Depends")
    for pkg in ("libc6", "libxcb1", "libasound2"):
        assert pkg in depends, depends
    # Only usr/share: the whole .deb unpacked is ~1.1 GB of disk for two small files.
    (tmp_path / "x").mkdir()
    deb = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(built.deb)], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(tmp_path / "x"), "./usr/share"], stdin=deb.stdout, check=True)
    deb.stdout.close()
    assert deb.wait() == 0
    entry = (tmp_path / "x" / "usr/share/applications" / f"{DESKTOP_ID}.desktop").read_text().splitlines()
    kv = dict(line.split("=", 1) for line in entry[1:] if "=" in line)
    assert entry[0] == "[Desktop Entry]" and kv["Name"] == "MaxSight" and kv["Exec"] == "maxsight"
    assert kv["Icon"] == "maxsight" and "Accessibility" in kv["Categories"].split(";") and kv["Terminal"] == "false"
    if shutil.which("desktop-file-validate"):
        r = subprocess.run(["desktop-file-validate", str(tmp_path / "x/usr/share/applications" / f"{DESKTOP_ID}.desktop")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    meta = ET.parse(tmp_path / "x/usr/share/metainfo" / f"{DESKTOP_ID}.metainfo.xml").getroot()
    assert meta.findtext("id") == DESKTOP_ID and meta.find("launchable").text == f"{DESKTOP_ID}.desktop"
    assert meta.find("releases/release").get("version") == built.version
    if shutil.which("appstreamcli"):
        r = subprocess.run(["appstreamcli", "validate", "--no-net", "--explain",
                            str(tmp_path / "x/usr/share/metainfo" / f"{DESKTOP_ID}.metainfo.xml")], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout


def test_apt_install_menu_to_set_up_and_remove_keeps_profiles(built, source_run, video, tmp_path):
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("installing the .deb needs root and apt-get")      # a property of the machine, not missing data
    apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["dpkg", "--purge", "maxsight"], capture_output=True, env=apt_env)     # a fresh install
    home = tmp_path / "home"
    home.mkdir()
    session = _x_session(tmp_path)
    try:
        t0 = time.monotonic()
        r = subprocess.run(["apt-get", "install", "-y", "-q", str(built.deb)], capture_output=True, text=True, env=apt_env,
                           timeout=900)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        t_installed = time.monotonic() - t0
        # The menu: the entry's Exec, started by the desktop with the user's environment (no terminal).
        entry = Path(f"/usr/share/applications/{DESKTOP_ID}.desktop").read_text()
        exec_line = next(line.split("=", 1)[1] for line in entry.splitlines() if line.startswith("Exec="))
        user = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": "",
                "XDG_DATA_HOME": "", "XDG_CACHE_HOME": "", "MAXSIGHT_DATA": "", "MAXSIGHT_CACHE": ""}
        app = session.spawn("menu", ["sh", "-c", f"unset MAXSIGHT_DATA MAXSIGHT_CACHE XDG_DATA_HOME XDG_CACHE_HOME; "
                                           f"exec {exec_line}"], env=user, cwd=str(home))
        wizard = session.window_id("^MaxSight set-up", timeout=180)
        t_wizard = time.monotonic() - t0
        _record(apt_install_s=round(t_installed, 1), apt_install_to_set_up_s=round(t_wizard, 1))
        assert t_wizard < 120, f"apt install to the spoken set-up took {t_wizard:.0f} s (target 2 minutes)"
        session.activate(wizard)
        session.key("Escape")
        db = home / ".local/share/maxsight/profiles.db"
        from tests.desktop.xsession import wait_for
        wait_for(lambda: db.exists() and _first_run_done(db), 30, "the profile saving first_run_done")
        session.end(app)
        # The installed window on a video (the set-up is done now, so none on top), playing for a while.
        log = tmp_path / "deb-window.log"
        app = session.spawn("deb-window", ["maxsight", "--source", str(video)], env=user, cwd=str(home), log=log)
        session.window_id("^MaxSight$", timeout=120)
        time.sleep(8)
        assert app.poll() is None, log.read_text()[-2000:]
        assert not session._out(["xdotool", "search", "--onlyvisible", "--name", "^MaxSight set-up"]).strip()
        assert "Traceback" not in log.read_text()
        session.end(app)
        # The installed command over the video: the source tree's hazards.
        r = subprocess.run(["maxsight", "run", "--source", str(video), "--headless", "--tier", "T0", "--max-frames", "40",
                            "--threads", "1", "--out", str(tmp_path / "d.jsonl")], capture_output=True, text=True,
                           cwd=tmp_path, env=_clean_env(HOME=str(home)), timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        assert _hazards(tmp_path / "d.jsonl") == _hazards(source_run)
    finally:
        session.stop()
    # Uninstalling keeps what the user made.
    before = db.read_bytes()
    r = subprocess.run(["apt-get", "remove", "-y", "-q", "maxsight"], capture_output=True, text=True, env=apt_env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not Path("/opt/maxsight").exists() and not Path("/usr/bin/maxsight").exists()
    assert db.read_bytes() == before and _first_run_done(db)
    r = subprocess.run(["dpkg", "--purge", "maxsight"], capture_output=True, text=True, env=apt_env)
    assert r.returncode == 0 and "your profiles are kept" in r.stdout + r.stderr
    assert db.exists() and _first_run_done(db)
