"""Runtime hook (runs before the app's code in the bundle): point the bundled native libraries at
their files. espeak-ng reads its voices from $ESPEAK_DATA_PATH/espeak-ng-data; sounddevice asks
ctypes.util.find_library("portaudio"), which only searches the system, so bundled libraries are
answered first; libespeak-ng's own dependencies are loaded from the bundle before it."""
import ctypes
import ctypes.util
import os
import sys

_BASE = getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))
if os.path.isdir(os.path.join(_BASE, "espeak-ng-data")):
    os.environ["ESPEAK_DATA_PATH"] = _BASE
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

_BUNDLED = {"portaudio": "libportaudio.so.2", "espeak-ng": "libespeak-ng.so.1", "espeak": "libespeak-ng.so.1"}
_find_library = ctypes.util.find_library


def _find_bundled_first(name):
    f = _BUNDLED.get(name)
    if f and os.path.exists(os.path.join(_BASE, f)):
        return os.path.join(_BASE, f)
    return _find_library(name)


ctypes.util.find_library = _find_bundled_first
for _dep in ("libsonic.so.0", "libpcaudio.so.0", "libportaudio.so.2"):
    _p = os.path.join(_BASE, _dep)
    if os.path.exists(_p):
        try:
            ctypes.CDLL(_p, mode=ctypes.RTLD_GLOBAL)
        except OSError:            # a system library it needs is missing: the app says so when it uses it
            pass
