"""The command line never loads torch (3-8 s and ~860 MB) to print an error or to run a command
that does not train or export: only the training toolkit's commands load it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from maxsight_app.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:
    rc = exc.code
print(json.dumps({"rc": rc, "torch": "torch" in sys.modules}))
"""


def _probe(tmp_path, *args) -> dict:
    env = {**os.environ, "MAXSIGHT_DATA": str(tmp_path / "data")}
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert "Traceback" not in r.stderr, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_importing_the_cli_does_not_load_torch(tmp_path):
    r = subprocess.run([sys.executable, "-c", "import sys, maxsight_app.cli; print('torch' in sys.modules)"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.stdout.strip() == "False", r.stderr


@pytest.mark.parametrize("args", [
    ("profile", "show", "nobody"),                                     # an error a user can act on
    ("run", "--headless", "--source", "missing.mp4"),                   # another, on the way to the engine
    ("profile", "list"),                                                # a command that works
])
def test_errors_and_plain_commands_do_not_load_torch(tmp_path, args):
    out = _probe(tmp_path, *args)
    assert out["torch"] is False, f"maxsight {' '.join(args)} loaded torch"
    assert out["rc"] == (0 if args[-1] == "list" else 2)


def test_torch_available_does_not_import_it(tmp_path):
    r = subprocess.run([sys.executable, "-c", "import sys\nfrom maxsight_app.commands.common import torch_available\n"
                        "torch_available(); print('torch' in sys.modules)"], capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "False", r.stderr
