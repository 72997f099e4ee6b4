"""`maxsight tune` (issue 18): a 3-trial Optuna search killed mid-trial resumes with the same
command, the killed trial's settings are tried again, every trial is kept, and the best settings
load into `maxsight train --hyperparameters`; a bad search space is one sentence."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.training.conftest import tiny
from tests.cli import data_said_missing, maxsight
from training.config import ConfigError, from_dict
from training.tune import parse

SPACE = {"optim.lr": {"low": 0.0003, "high": 0.01, "log": True}, "optim.batch": {"low": 2, "high": 4, "step": 2}}


def _config(tmp_path, **search):
    cfg = tiny(tmp_path, optim__iters_per_epoch=3)
    cfg["out"] = str(tmp_path / "study")
    cfg["search"] = {"metric": "loss", "startup_trials": 1, "space": SPACE, **search}
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


_cli = maxsight


def test_killed_search_resumes_and_its_best_settings_load_into_train(tmp_path):
    path = _config(tmp_path)
    study = tmp_path / "study"
    proc = subprocess.Popen([sys.executable, "-m", "maxsight_app", "tune", str(path), "--trials", "3", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (study / "trials" / "trial_001").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    if proc.poll() is not None:                 # it ended before its first trial: say why
        data_said_missing(proc.stderr.read())
    os.kill(proc.pid, signal.SIGKILL)                                    # dies as a killed process does, mid-trial
    proc.wait()
    first = json.loads((study / "trials" / "trial_000" / "trial.json").read_text())
    assert first["state"] == "complete" and first["value"] is not None
    killed = json.loads((study / "trials" / "trial_001" / "trial.json").read_text())
    assert killed["state"] == "running"

    r = _cli("tune", str(path), "--trials", "3", "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "trial(s) 1 were running when the last search stopped" in r.stdout
    rows = list(csv.DictReader((study / "trials.csv").open()))
    states = [row["state"] for row in rows]
    assert states.count("fail") == 1 and states.count("complete") + states.count("pruned") == 3
    assert rows[1]["state"] == "fail" and rows[2]["optim.lr"] == rows[1]["optim.lr"]   # its settings tried again first
    for row in rows:                                                     # every trial's settings and score are kept
        t = json.loads((study / "trials" / f"trial_{int(row['trial']):03d}" / "trial.json").read_text())
        assert set(t["params"]) == set(SPACE)
        if t["state"] == "complete":
            assert (study / "trials" / f"trial_{int(row['trial']):03d}" / "config.json").is_file()
    best = json.loads((study / "best_hyperparameters.json").read_text())
    done = [row for row in rows if row["state"] == "complete"]
    assert best["value"] == pytest.approx(min(float(row["loss"]) for row in done))

    # again with 3 wanted: nothing left to do
    again = _cli("tune", str(path), "--trials", "3", "--quiet")
    assert again.returncode == 0 and "(0 run now)" in again.stdout

    t = _cli("train", str(path), "--hyperparameters", str(study / "best_hyperparameters.json"), "--out", str(tmp_path / "best"), "--quiet")
    assert t.returncode == 0, t.stderr[-2000:]
    used = json.loads((tmp_path / "best" / "config.json").read_text())
    assert used["optim"]["lr"] == pytest.approx(best["params"]["optim.lr"]) and used["optim"]["batch"] == best["params"]["optim.batch"]


def test_search_space_is_checked_field_by_field(tmp_path):
    base = from_dict(tiny(tmp_path))
    s = parse({"metric": "mAP50", "space": {**SPACE, "data.augment.mosaic": {"choices": [0.0, 0.3]}}}, base)
    kinds = {p.key: p.kind for p in s.space}
    assert kinds == {"optim.lr": "float", "optim.batch": "int", "data.augment.mosaic": "choice"}
    for space, msg in [
        ({"optim.lr": {"low": 0.01, "high": 0.01}}, "search.space.optim.lr: the range is empty (low 0.01, high 0.01); low must be below high"),
        ({"optim.lrr": {"low": 0.001, "high": 0.01}}, "search.space.optim.lrr: optim.lrr is not a setting of the config"),
        ({"optim.batch": {"low": 2, "high": 8.5}}, "search.space.optim.batch: optim.batch is a whole number"),
        ({"optim.lr": {"low": 0, "high": 0.1, "log": True}}, "search.space.optim.lr: a log range needs low > 0"),
        ({"optim.lr": {"choices": []}}, "search.space.optim.lr.choices must be a non-empty list"),
        ({"optim.lr": {"low": 0.001, "high": 0.01, "sample": "x"}}, "search.space.optim.lr.sample is not a range setting"),
    ]:
        with pytest.raises(ConfigError) as e:
            parse({"space": space}, base)
        assert str(e.value).startswith(msg), str(e.value)
    with pytest.raises(ConfigError, match="search.metric must be one of mAP50, mAP, loss, got 'AP'"):
        parse({"metric": "AP", "space": SPACE}, base)


def test_empty_range_on_the_command_line_is_one_sentence(tmp_path):
    path = _config(tmp_path)
    cfg = yaml.safe_load(path.read_text())
    cfg["search"]["space"]["optim.lr"] = {"low": 0.01, "high": 0.001}
    path.write_text(yaml.safe_dump(cfg))
    r = _cli("tune", str(path), "--trials", "2")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == "maxsight: search.space.optim.lr: the range is empty (low 0.01, high 0.001); low must be below high"
    assert not (tmp_path / "study" / "study.db").exists()
