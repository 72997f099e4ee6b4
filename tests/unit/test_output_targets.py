"""Output targets of every command that writes: MaxSight's own files are refused, a pipe is refused
instead of hanging, a folder output that cannot be made is one sentence before any work starts, a
cache that cannot be written fails `models register` in one sentence, and an OSError no command
foresaw still ends as one sentence, never a traceback."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from maxsight_app.cli import main
from maxsight_app.files import OutputError, atomic, check_folder, check_target, own_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("MAXSIGHT_DATA", str(d))
    monkeypatch.setenv("MAXSIGHT_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return d


def test_own_files_are_named(data, tmp_path):
    for name in ("profiles.db", "profiles.db-wal", "profiles.db-shm", "profiles.db-journal"):
        assert own_file(data / name) == "your profile database"
    assert own_file(data / "personal-3.faiss") == "your taught objects"
    assert own_file(tmp_path / "cache" / "models" / "yamnet.onnx") == "MaxSight's model cache"
    assert own_file(ROOT / "assets" / "labels" / "coco80.json") == "MaxSight's own assets"
    assert own_file(tmp_path / "results.jsonl") is None and own_file(data / "notes.txt") is None


def test_a_hard_link_to_the_database_is_the_database(data, tmp_path):
    assert main(["profile", "create", "Ada"]) == 0
    os.link(data / "profiles.db", tmp_path / "innocent.json")
    with pytest.raises(OutputError, match="your profile database"):
        check_target("--json", tmp_path / "innocent.json")


@pytest.mark.parametrize("args", [
    ["profile", "export", "{target}"],
    ["doctor", "--json", "{target}"],
])
def test_json_outputs_onto_the_database_or_a_pipe_are_refused(data, tmp_path, capsys, args):
    assert main(["profile", "create", "Ada"]) == 0
    db = data / "profiles.db"
    before = db.read_bytes()
    assert main([a.format(target=db) for a in args]) == 2
    assert "is your profile database" in capsys.readouterr().err
    assert db.read_bytes() == before
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    assert main([a.format(target=fifo) for a in args]) == 2
    assert "is not a regular file" in capsys.readouterr().err


def test_importing_from_a_pipe_is_refused_instead_of_hanging(data, tmp_path):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    env = {**os.environ}
    r = subprocess.run([sys.executable, "-m", "maxsight_app", "profile", "import", str(fifo)], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "is not a regular file" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("command", [["tune", "missing.yaml", "--trials", "1"], ["prune", "missing.pt"],
                                     ["train", "missing.yaml"], ["export", "missing.pt"],
                                     ["profile", "report", "Ada"]])
def test_folder_outputs_that_cannot_be_made_are_refused_before_any_work(data, tmp_path, capsys, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main([*command, "--out", str(blocker / "inside")]) == 2
    err = capsys.readouterr().err
    assert f"--out {blocker / 'inside'} cannot be created: {blocker} is a file" in err, err
    assert main([*command, "--out", str(tmp_path / "cache" / "models")]) == 2
    assert "MaxSight's model cache" in capsys.readouterr().err


def test_models_register_into_a_cache_that_cannot_be_written_is_one_sentence(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    env = {**os.environ, "MAXSIGHT_DATA": str(tmp_path / "data"), "MAXSIGHT_CACHE": str(blocker / "cache")}
    r = subprocess.run([sys.executable, "-m", "maxsight_app", "models", "register", "mine",
                        str(ROOT / "assets" / "models" / "access_detector" / "model.onnx")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "cannot register mine" in r.stderr and "nothing was registered" in r.stderr


def test_an_unforeseen_os_error_is_one_sentence(data, capsys, monkeypatch):
    import maxsight_app.commands.profile as profile_commands

    def fails(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/file")
    monkeypatch.setattr(profile_commands, "cmd_profile", fails)
    assert main(["profile", "list"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "maxsight: /somewhere/file: no permission"


def test_atomic_writes_leave_the_old_file_on_a_full_disk(tmp_path):
    target = tmp_path / "results.json"
    target.write_text(json.dumps({"old": True}))
    with pytest.raises(OutputError, match="the disk is full"):
        with atomic(target) as f:
            f.write("{\"new\": ")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_check_folder_accepts_a_new_folder_in_a_writable_place(tmp_path):
    check_folder("--out", tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists()                # the check writes nothing
