"""`maxsight doctor`: everything a run depends on, checked, one line each, with the fix when it
fails. Qt-free, so the window's Help menu shows the same report (ui/help.py).

A check is required or optional. A required one that fails (no Python package MaxSight needs, the
default detector missing or damaged, a damaged profile database, a full disk) makes the report fail
(exit 1); an optional thing that is absent (camera, microphone, sound card, game controller,
serial port, a Stage B model, a display) is reported as missing with what MaxSight does instead,
and the report still passes (exit 0). A damaged model file is always a failure: something is
broken, not merely absent.

Nothing here changes anything: the profile database is opened read-only, models are hashed, not
repaired, devices are listed, not opened for use (a camera is opened and closed once).
"""
from __future__ import annotations

import glob
import importlib.metadata as metadata
import logging
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

OK, MISSING, WARNING, FAIL = "ok", "missing", "warning", "fail"

# Installed without its dependencies by scripts/setup.sh (it declares opencv-python, whose Qt clashes
# with PySide6), so no requirement names it: checked on its own, optional (reading text is off without it).
TEXT_READER = ("rapidocr-onnxruntime", "==1.4.4")
# Never installed beside PySide6: its bundled Qt clashes with PySide6's (cv2 loads the wrong Qt plugins).
CLASHES = {"opencv-python": "opencv-python-headless", "opencv-contrib-python": "opencv-python-headless"}
# Shared libraries Qt's xcb platform plugin links, and the Debian package that has each.
DEBIAN_PACKAGE_OF = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0", "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-randr.so.0": "libxcb-randr0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxkbcommon.so.0": "libxkbcommon0", "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1", "libfontconfig.so.1": "libfontconfig1", "libdbus-1.so.3": "libdbus-1-3",
    "libxcb-util.so.1": "libxcb-util1", "libX11-xcb.so.1": "libx11-xcb1", "libxcb.so.1": "libxcb1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-sync.so.1": "libxcb-sync1", "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0", "libglib-2.0.so.0": "libglib2.0-0", "libfreetype.so.6": "libfreetype6",
}
MIN_FREE_MB = 100          # below this, profile writes and speech scratch files may fail
LOW_FREE_MB = 500          # below this, `maxsight models fetch` (145 MB download + conversion) may not fit


@dataclass(frozen=True)
class Check:
    name: str
    status: str              # ok | missing (optional, absent) | warning (works, but worth fixing) | fail
    detail: str              # what was found, one sentence
    fix: str = ""            # what to do, when not ok
    required: bool = True

    def line(self) -> str:
        word = {OK: "ok", MISSING: "missing", WARNING: "warning", FAIL: "FAILED"}[self.status]
        opt = " (optional)" if self.status == MISSING and not self.required else ""
        fix = f" Fix: {self.fix}" if self.fix and self.status != OK else ""
        return f"{word:<8} {self.name}: {self.detail}{opt}{fix}"


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in (OK, MISSING, WARNING, FAIL)}

    def summary(self) -> str:
        n = self.counts()
        if not self.ok:
            return (f"{n[FAIL]} problem{'s' if n[FAIL] != 1 else ''} to fix before MaxSight can run fully; "
                    f"{n[MISSING]} optional thing{'s' if n[MISSING] != 1 else ''} missing, {n[WARNING]} warning(s).")
        return (f"MaxSight can run: {n[OK]} checks passed, {n[MISSING]} optional thing{'s' if n[MISSING] != 1 else ''} "
                f"missing, {n[WARNING]} warning{'s' if n[WARNING] != 1 else ''}.")

    def text(self) -> str:
        return "\n".join([c.line() for c in self.checks] + [self.summary()])

    def to_json(self) -> dict:
        return {"ok": self.ok, "summary": self.summary(), "counts": self.counts(), "checks": [asdict(c) for c in self.checks]}


# -- helpers ----------------------------------------------------------------------------------
def _version_key(v: str) -> tuple:
    parts = []
    for p in re.split(r"[.+-]", v):
        m = re.match(r"\d+", p)
        if not m:
            break
        parts.append(int(m.group()))
    return tuple(parts)


def satisfies(version: str, spec: str) -> bool:
    """'6.11.3' against '==6.11.3', '>=1.26', '>=1.2,<2': the comparisons pyproject.toml uses."""
    have = _version_key(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        m = re.match(r"(==|>=|<=|!=|~=|>|<)\s*(.+)", clause)
        if not m:
            continue
        op, want_s = m.groups()
        want = _version_key(want_s)
        n = max(len(have), len(want))
        a, b = have + (0,) * (n - len(have)), want + (0,) * (n - len(want))
        ok = {"==": a == b, ">=": a >= b, "<=": a <= b, "!=": a != b, ">": a > b, "<": a < b,
              "~=": a >= b and a[:max(1, len(want) - 1)] == b[:max(1, len(want) - 1)]}[op]
        if not ok:
            return False
    return True


def requirements(extras: tuple[str, ...] = ("app",)) -> dict[str, str] | None:
    """name -> version specifier of what MaxSight declares (base + `extras`), from its installed
    metadata; None when that metadata is not there (a source checkout never installed)."""
    try:
        reqs = metadata.requires("maxsight") or []
    except metadata.PackageNotFoundError:
        return None
    out: dict[str, str] = {}
    for r in reqs:
        body, _, marker = r.partition(";")
        m = re.search(r'extra\s*==\s*"([^"]+)"', marker)
        if m and m.group(1) not in extras:
            continue
        nm = re.match(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)", body)
        if nm:
            out[nm.group(1)] = nm.group(3).strip()
    return out


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _free_mb(path: Path) -> float:
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free / 1e6


def _frozen_root() -> Path | None:
    return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) if getattr(sys, "frozen", False) else None


# -- the checks -------------------------------------------------------------------------------
def check_python() -> Check:
    v = sys.version_info
    where = "inside the MaxSight bundle" if _frozen_root() else sys.executable
    if v < (3, 10):
        return Check("Python", FAIL, f"{v.major}.{v.minor}.{v.micro} at {where} is too old",
                     "install Python 3.10 or newer (or the MaxSight package, which brings its own)")
    return Check("Python", OK, f"{v.major}.{v.minor}.{v.micro} at {where}")


def check_packages() -> Check:
    want = requirements()
    if want is None:
        if _frozen_root():
            return Check("Python packages", OK, "bundled with MaxSight (their versions were checked when it was built)")
        return Check("Python packages", FAIL, "MaxSight itself is not installed in this Python, so its needs cannot be read",
                     "run scripts/setup.sh (or pip install 'maxsight[app]')")
    missing, wrong = [], []
    for name, spec in sorted(want.items(), key=lambda kv: kv[0].lower()):
        have = _installed(name)
        if have is None:
            missing.append(f"{name}{spec}")
        elif spec and not satisfies(have, spec):
            wrong.append(f"{name} {have} (wants {spec})")
    clashes = [f"{bad} (use {good})" for bad, good in CLASHES.items() if _installed(bad)]
    if missing or wrong or clashes:
        bits = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"wrong version {', '.join(wrong)}"] if wrong else []) \
            + ([f"clashing {', '.join(clashes)}"] if clashes else [])
        fix = "pip install 'maxsight[app]' again (scripts/setup.sh does it)"
        if clashes:
            fix = f"pip uninstall -y {' '.join(b for b in CLASHES if _installed(b))}; then {fix}"
        return Check("Python packages", FAIL, "; ".join(bits), fix)
    return Check("Python packages", OK, f"{len(want)} packages at their pinned versions "
                 f"(PySide6-Essentials {_installed('PySide6-Essentials') or 'absent'}, onnxruntime "
                 f"{_installed('onnxruntime') or _installed('onnxruntime-gpu') or 'absent'})")


def _pyside_dir() -> Path | None:
    import importlib.util
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    root = _frozen_root()
    return root / "PySide6" if root and (root / "PySide6").is_dir() else None


def check_text_reader() -> Check:
    name, spec = TEXT_READER
    have = _installed(name)
    fix = f"pip install --no-deps '{name}{spec}' (without --no-deps it pulls opencv-python, which breaks the window)"
    if have is None:
        if _frozen_root():
            return Check("Text reader", MISSING, "not in this bundle; reading text (T) is off", "reinstall MaxSight",
                         required=False)
        return Check("Text reader", MISSING, f"{name} is not installed; reading text (T) is off", fix, required=False)
    if not satisfies(have, spec):
        return Check("Text reader", WARNING, f"{name} {have} (MaxSight is tested with {spec[2:]})", fix, required=False)
    return Check("Text reader", OK, f"{name} {have} (PP-OCRv4 models inside it)", required=False)


def check_qt_plugin() -> Check:
    pyside = _pyside_dir()
    if pyside is None:
        return Check("Qt platform plugin", FAIL, "PySide6 is not installed, so the window cannot open",
                     "pip install 'maxsight[app]' (or use `maxsight run --headless`)")
    if not sys.platform.startswith("linux"):
        return Check("Qt platform plugin", OK, f"PySide6 at {pyside}")
    plugin = next(iter(sorted(glob.glob(str(pyside / "**" / "platforms" / "libqxcb.so"), recursive=True))), None)
    if plugin is None:
        return Check("Qt platform plugin", FAIL, f"the xcb platform plugin is missing from {pyside}",
                     "reinstall PySide6-Essentials (pip install --force-reinstall PySide6-Essentials==6.11.3)")
    if shutil.which("ldd") is None:
        return Check("Qt platform plugin", OK, f"xcb plugin at {plugin} (its libraries were not checked: no ldd)")
    out = subprocess.run(["ldd", plugin], capture_output=True, text=True, timeout=20).stdout
    missing = sorted({line.split()[0] for line in out.splitlines() if "not found" in line})
    if missing:
        pkgs = sorted({DEBIAN_PACKAGE_OF.get(m, m) for m in missing})
        return Check("Qt platform plugin", FAIL, f"the xcb plugin cannot load: {', '.join(missing)} not found",
                     f"sudo apt-get install {' '.join(pkgs)}")
    return Check("Qt platform plugin", OK, "xcb, with every library it links")


def check_display() -> Check:
    if not sys.platform.startswith("linux"):
        return Check("Display", OK, "the desktop's", required=False)
    wayland, x = os.environ.get("WAYLAND_DISPLAY"), os.environ.get("DISPLAY")
    instead = "the window cannot open here; `maxsight run --source FILE --headless` works without one"
    if x:
        m = re.match(r"^(?:unix)?:(\d+)", x)
        sock = f"/tmp/.X11-unix/X{m.group(1)}" if m else None
        if sock and not os.path.exists(sock):
            return Check("Display", MISSING, f"DISPLAY is {x}, but no X server listens there; {instead}",
                         "start MaxSight from the desktop (its menu entry), or start the X server", required=False)
        if sock:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(2)
                    s.connect(sock)
            except OSError as exc:
                return Check("Display", MISSING, f"the X server {x} does not answer ({exc.strerror or exc}); {instead}",
                             "start MaxSight from the desktop", required=False)
        return Check("Display", OK, f"X11 {x}" + (f", Wayland {wayland}" if wayland else ""), required=False)
    if wayland:
        return Check("Display", OK, f"Wayland {wayland} (Qt uses XWayland through xcb or its wayland plugin)", required=False)
    return Check("Display", MISSING, f"no display; {instead}", "start MaxSight from the desktop", required=False)


def check_cameras() -> Check:
    nodes = sorted(glob.glob("/dev/video*")) if sys.platform.startswith("linux") else []
    if sys.platform.startswith("linux") and not nodes:
        return Check("Camera", MISSING, "no camera (no /dev/video device); MaxSight can watch a video file instead",
                     "plug in a USB camera, or open a video file (Ctrl+O; --source FILE)", required=False)
    from maxsight_app.capture.video import list_cameras
    found = list_cameras()
    if not found:
        return Check("Camera", MISSING, f"{len(nodes)} video device(s) but none opens as a camera "
                     "(in use by another program, or no permission)",
                     "close other camera programs; add yourself to the video group (sudo adduser $USER video)",
                     required=False)
    return Check("Camera", OK, f"{len(found)} camera(s): index {', '.join(map(str, found))}", required=False)


def _portaudio_devices() -> tuple[list[dict] | None, str]:
    try:
        import sounddevice as sd
    except OSError:
        return None, "the PortAudio library is missing"
    except ImportError:
        return None, "the sounddevice package is not installed"
    try:
        return list(sd.query_devices()), ""
    except Exception as exc:  # noqa: BLE001 - PortAudio raises its own errors
        return [], str(exc)


def check_microphones() -> Check:
    devices, why = _portaudio_devices()
    if devices is None:
        return Check("Microphone", MISSING, f"{why}; sounds and captions can still come from a video's own sound track",
                     "sudo apt-get install libportaudio2", required=False)
    mics = [d["name"] for d in devices if d.get("max_input_channels", 0) > 0]
    if not mics:
        return Check("Microphone", MISSING, "no microphone; sounds and captions come from a video's sound track only",
                     "plug in a microphone or headset", required=False)
    return Check("Microphone", OK, f"{len(mics)}: {', '.join(mics[:3])}", required=False)


def check_sound_output() -> Check:
    from maxsight_app.outputs.audio import no_output_device_reason
    why = no_output_device_reason()
    if why:
        fix = "sudo apt-get install libportaudio2" if "PortAudio" in why else "plug in speakers or headphones"
        return Check("Sound output", MISSING, f"{why}; cues go to your screen reader and the screen instead", fix,
                     required=False)
    devices, _ = _portaudio_devices()
    outs = [d["name"] for d in devices or [] if d.get("max_output_channels", 0) > 0]
    return Check("Sound output", OK, f"{len(outs)} device(s): {', '.join(outs[:3])}", required=False)


def check_voices() -> Check:
    from maxsight_app.outputs.speech import SpeechSynth
    synth = SpeechSynth()
    why = synth.check()
    if why:
        return Check("Speech voices", MISSING, f"{why}; cues go to your screen reader and the screen instead",
                     "sudo apt-get install espeak-ng", required=False)
    voices = synth.voices()
    english = [v for v, _ in voices if v.endswith(("/en", "/en-us", "/en-gb")) or v in ("en", "en-us", "en-gb")]
    if not english:
        return Check("Speech voices", WARNING, f"espeak-ng has {len(voices)} voices but no English one",
                     "sudo apt-get install espeak-ng-data", required=False)
    return Check("Speech voices", OK, f"espeak-ng, {len(voices)} voices (English: {', '.join(english[:3])})", required=False)


def check_serial(haptic_port: str = "") -> Check:
    try:
        from serial.tools import list_ports
    except ImportError:
        return Check("Serial vibration devices", MISSING, "pyserial is not installed", "pip install pyserial", required=False)
    ports = [p.device for p in list_ports.comports()]
    usb = [p for p in ports if not re.match(r"/dev/ttyS\d+$", p)]      # ttyS*: the machine's own UARTs
    if haptic_port and haptic_port not in ports and not os.path.exists(haptic_port):
        return Check("Serial vibration devices", WARNING, f"your profile names {haptic_port}, which is not connected"
                     + (f" (found: {', '.join(ports)})" if ports else ""),
                     "connect the device, or choose its port in Settings", required=False)
    if not usb:
        builtin = f" (only the machine's built-in port{'s' if len(ports) > 1 else ''} {', '.join(ports[:4])})" if ports else ""
        return Check("Serial vibration devices", MISSING, f"no USB serial device{builtin}; vibration can use a game "
                     "controller instead", "connect a serial vibration device and choose its port in Settings",
                     required=False)
    return Check("Serial vibration devices", OK, f"{len(usb)} USB serial port(s): {', '.join(usb[:4])}", required=False)


def check_controllers() -> Check:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError:
        return Check("Game controllers", MISSING, "pygame-ce is not installed", "pip install pygame-ce", required=False)
    try:
        pygame.joystick.init()
        n = pygame.joystick.get_count()
        names = [pygame.joystick.Joystick(i).get_name() for i in range(n)]
    except Exception as exc:  # noqa: BLE001 - SDL errors
        return Check("Game controllers", MISSING, f"SDL cannot list controllers ({exc})", "", required=False)
    if not names:
        return Check("Game controllers", MISSING, "no game controller; vibration is off unless a serial device is used",
                     "connect a controller with rumble (USB or Bluetooth)", required=False)
    return Check("Game controllers", OK, f"{len(names)}: {', '.join(names[:3])}", required=False)


MODEL_USE = {"nanodet": "the default detector", "centernet": "the fused detector", "yamnet": "environmental sounds",
             "mobilenet_v2": "your own objects and places"}


def check_models(registry=None, required: tuple[str, ...] | None = None) -> list[Check]:
    """One line per model with files: installed (where), missing, or damaged."""
    from engine.config import EngineConfig
    from engine.models.registry import ModelError, bundled_files, installed_path, verified_path
    if registry is None:
        from maxsight_app.compose import make_registry
        registry = make_registry()
    if required is None:
        default = registry.get(EngineConfig().detector)
        required = tuple(default.parts) or (default.name,)
    out = []
    for spec in registry:
        if spec.parts:
            continue
        need = spec.name in required
        use = MODEL_USE.get(spec.name, spec.description.split(" (")[0])
        name = f"Model {spec.name}"
        try:
            path = verified_path(spec)
        except ModelError as exc:
            text = str(exc)
            absent = installed_path(spec) is None and ("not installed" in text or "missing" in text)
            if absent:
                fix = "run `maxsight models fetch` (offline: `maxsight models fetch --tarball FILE`)" \
                    if spec.fetched else "reinstall MaxSight"
                out.append(Check(name, FAIL if need else MISSING, f"not installed: {use} is off", fix, required=need))
            else:
                out.append(Check(name, FAIL, text.rstrip("."), "run `maxsight models fetch` to repair it"
                                 if spec.fetched else "reinstall MaxSight", required=need))
            continue
        bundled = bundled_files(spec)
        where = "shipped with MaxSight" if spec.pinned else \
            "came with MaxSight" if bundled and path.is_relative_to(bundled[0]) else "hash-checked in your cache"
        out.append(Check(name, OK, f"{use}, {where}, {path}", required=need))
    return out


def check_onnxruntime() -> Check:
    try:
        import onnxruntime as ort
    except ImportError:
        return Check("ONNX Runtime", FAIL, "not installed; no model can run", "pip install onnxruntime")
    from engine.device import available_onnx_providers, pick_device
    providers = available_onnx_providers()
    device = pick_device("auto")
    both = _installed("onnxruntime") and _installed("onnxruntime-gpu")
    detail = f"{ort.__version__}, providers {', '.join(providers)}; Stage A would run on {device}"
    if both:
        return Check("ONNX Runtime", WARNING, detail + "; both onnxruntime and onnxruntime-gpu are installed and shadow "
                     "each other", "pip uninstall -y onnxruntime onnxruntime-gpu; pip install 'onnxruntime-gpu[cuda,cudnn]'")
    if device == "cpu":
        gpu = shutil.which("nvidia-smi") is not None or os.path.exists("/proc/driver/nvidia/version")
        if gpu:
            return Check("ONNX Runtime", WARNING, detail + "; an NVIDIA GPU is present but this ONNX Runtime cannot use it",
                         "pip install 'maxsight[gpu]' (the CUDA build of ONNX Runtime)")
    return Check("ONNX Runtime", OK, detail)


def check_disk() -> Check:
    from engine.models.registry import cache_dir
    from maxsight_app.profile.store import default_path
    places = {"models cache": cache_dir(), "profiles": default_path().parent}
    free = {k: _free_mb(p) for k, p in places.items()}
    worst = min(free, key=free.get)
    detail = ", ".join(f"{k} {free[k] / 1e3:.1f} GB free ({places[k]})" for k in places)
    if free[worst] < MIN_FREE_MB:
        return Check("Free disk", FAIL, detail, f"free some space where {worst} live ({places[worst]})")
    if free[worst] < LOW_FREE_MB:
        return Check("Free disk", WARNING, detail + "; fetching models needs about 500 MB", "free some space")
    return Check("Free disk", OK, detail)


def check_profiles(path: Path | None = None) -> Check:
    from maxsight_app.profile.store import SCHEMA_VERSION, default_path
    path = Path(path) if path else default_path()
    if not path.exists():
        return Check("Profile database", OK, f"none yet; created at {path} on first start")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
            version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
            users = conn.execute("SELECT count(*) FROM users").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return Check("Profile database", FAIL, f"{path} cannot be read ({exc})",
                     "MaxSight moves a damaged database aside and starts a new one at its next start; restore a backup "
                     "with `maxsight profile import FILE`")
    if verdict != "ok":
        return Check("Profile database", FAIL, f"{path} is damaged ({verdict[:120]})",
                     "MaxSight moves it aside and starts a new one at its next start; restore a backup with "
                     "`maxsight profile import FILE`")
    if version is not None and version > SCHEMA_VERSION:
        return Check("Profile database", FAIL, f"{path} was written by a newer MaxSight (schema {version}, this one "
                     f"knows {SCHEMA_VERSION})", "update MaxSight")
    return Check("Profile database", OK, f"{path}: intact, schema {version}, {users} profile(s)")


def _profile_haptic_port() -> str:
    from maxsight_app.profile.store import default_path
    path = default_path()
    if not path.exists():
        return ""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            row = conn.execute("SELECT haptic_port FROM preferences WHERE haptic_port != '' LIMIT 1").fetchone()
        finally:
            conn.close()
        return row[0] if row else ""
    except sqlite3.DatabaseError:
        return ""


def run_checks(registry=None, progress: Callable[[Check], None] | None = None) -> Report:
    """Every check, in the order a user would fix them; a check that raises is reported as failed
    with its error, never stops the others."""
    steps: list[Callable[[], Check | list[Check]]] = [
        check_python, check_packages, check_text_reader, check_qt_plugin, check_display, check_cameras, check_microphones,
        check_sound_output, check_voices, lambda: check_serial(_profile_haptic_port()), check_controllers,
        lambda: check_models(registry), check_onnxruntime, check_disk, check_profiles]
    names = ["Python", "Python packages", "Text reader", "Qt platform plugin", "Display", "Camera", "Microphone", "Sound output",
             "Speech voices", "Serial vibration devices", "Game controllers", "Models", "ONNX Runtime", "Free disk",
             "Profile database"]
    checks: list[Check] = []
    for name, step in zip(names, steps):
        try:
            got = step()
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the rest
            log.debug("check %s failed", name, exc_info=True)
            got = Check(name, FAIL, f"the check itself failed: {type(exc).__name__}: {exc}",
                        "run `maxsight --debug doctor` and report the error")
        for c in got if isinstance(got, list) else [got]:
            checks.append(c)
            if progress is not None:
                progress(c)
    return Report(tuple(checks))
