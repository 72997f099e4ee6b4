"""ExecuTorch and CoreML exports (issue 18): the ExecuTorch program, run by ExecuTorch's own
runtime on real images, matches eager torch within the ONNX tolerance; the CoreML package is
saved and its spec (input, five named outputs, their shapes) checked, as far as Linux allows; a
missing export package is one sentence and a non-zero exit."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.training.conftest import tiny
from training.config import from_dict
from training.loop import Trainer

pytest.importorskip("executorch", reason="the export extra (executorch) is not installed")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained_mobile")
    Trainer(from_dict(tiny(tmp, optim__iters_per_epoch=3)), progress=False).run()
    return tmp / "run" / "last.pt"


@pytest.mark.slow                 # lowering to XNNPACK takes tens of seconds of Python passes (60-85 s on a loaded 2-core machine)
def test_executorch_program_matches_eager_within_the_onnx_tolerance(trained, tmp_path):
    from training.export import PARITY_MAX_BOX_FRACTION, PARITY_MAX_SCORE, export
    rep = export(trained, tmp_path, ("executorch",), name="m", calib_limit=4)
    et = rep.parity["executorch"]                                        # held to the tolerance export() holds ONNX to
    assert et["images"] == 4 and et["max_abs_score"] <= PARITY_MAX_SCORE and et["max_abs_box_px"] <= PARITY_MAX_BOX_FRACTION * 96, et
    assert et["top100_agreement"] >= 0.95
    assert et["latency_ms_median"] > 0 and et["eager_latency_ms_median"] > 0
    assert (tmp_path / "m.pte").stat().st_size > 100_000


def test_coreml_package_spec_is_checked(trained, tmp_path):
    pytest.importorskip("coremltools")
    from training.export import export
    rep = export(trained, tmp_path, ("coreml",), name="m", calib_limit=2)
    c = rep.checks["coreml"]
    assert (tmp_path / "m.mlpackage").is_dir() and c["input"] == {"image": [1, 3, 96, 96]}
    assert list(c["outputs"]) == ["scores", "boxes", "distance", "urgency", "uncertainty"]
    assert c["outputs"]["scores"] == [1, 36, 80] and c["outputs"]["urgency"] == [1, 4]
    assert c["ran"] is False and "macOS" in c["note"]
    saved = json.loads((tmp_path / "m.export.json").read_text())
    assert saved["checks"]["coreml"]["outputs"]["boxes"] == [1, 36, 4]


@pytest.mark.parametrize("fmt,package", [("executorch", "executorch"), ("coreml", "coremltools")])
def test_missing_export_package_is_one_sentence(trained, tmp_path, fmt, package):
    code = (f"import sys; sys.modules[{package!r}] = None\n"          # as if the package were not installed
            "from maxsight_app.cli import main\n"
            f"sys.exit(main(['export', {str(trained)!r}, '--out', {str(tmp_path)!r}, '--format', 'onnx,{fmt}']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith(f"maxsight: the {fmt} export needs the {package} package, which is not installed")
    assert not any(tmp_path.iterdir())                                  # refused before any work
