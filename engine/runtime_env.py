"""Privacy and quiet for the native runtimes MaxSight loads, set before any of them is imported.

ONNX Runtime ships with telemetry on: on import it creates a device id and an event queue under
~/.cache/Microsoft/DeveloperTools and may send them to Microsoft. Only the environment variable
set *before* `import onnxruntime` stops that (disable_telemetry_events() afterwards still writes
the files: measured with ORT 1.32). Hugging Face libraries (faster-whisper) must never look for a
hub. Every process MaxSight starts runs this first: `engine` does on import, so the app, the Stage B
worker and training all do.
"""
from __future__ import annotations

import os
import sys

QUIET_ENV = {
    "ORT_DISABLE_TELEMETRY": "1",     # ONNX Runtime: no device id, no event queue, no upload
    "HF_HUB_OFFLINE": "1",            # faster-whisper / huggingface_hub: never ask a hub
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "OMP_WAIT_POLICY": "PASSIVE",     # no spinning threads on a shared 2-core machine
}


def quiet_runtimes() -> None:
    """Set the environment before runtimes load; if ONNX Runtime is already loaded, turn its
    events off as well (its files may then already exist: import order matters)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"        # never left to a caller's environment
    ort = sys.modules.get("onnxruntime")
    if ort is not None and hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
