"""The near-miss log from the command line: turned on, a limit out of bounds refused in one
sentence, reported (CSV), and deleted with its profile."""
from __future__ import annotations

from maxsight_app.profile.store import ProfileStore
from tests.unit.profile.test_near_misses import _ago, _entry


def test_the_command_line_sets_the_log_reports_it_and_deletes_it_with_the_profile(tmp_path, monkeypatch, capsys):
    from maxsight_app.cli import main
    monkeypatch.setenv("MAXSIGHT_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert main(["profile", "create", "Ada"]) == 0
    assert main(["profile", "set", "Ada", "near_miss_log", "on"]) == 0
    assert main(["profile", "set", "Ada", "near_miss_days", "400"]) == 2
    assert capsys.readouterr().err.strip() == "maxsight: near_miss_days: must be between 1 and 365; got 400"
    s = ProfileStore(tmp_path / "data" / "profiles.db")
    s.add_near_misses(1, [_entry("Stop! car, straight ahead, 3 metres", _ago(0), urgency="danger")])
    s.close()
    assert main(["profile", "report", "Ada", "--out", "reports"]) == 0
    assert "1 near-miss log entries" in capsys.readouterr().out
    assert "Stop! car" in (tmp_path / "reports" / "maxsight-report-Ada-near-misses.csv").read_text()
    assert main(["profile", "log", "Ada"]) == 0
    assert "danger: Stop! car, straight ahead, 3 metres" in capsys.readouterr().out
    assert main(["profile", "log", "Ada", "--clear"]) == 0 and "deleted 1 near-miss" in capsys.readouterr().out
    assert main(["profile", "log", "Ada"]) == 0 and "no near-miss log entries; the log is on" in capsys.readouterr().out
    s = ProfileStore(tmp_path / "data" / "profiles.db")
    s.add_near_misses(1, [_entry("Warning, dog, 10 o'clock, 4 metres", _ago(0))])
    s.close()
    assert main(["profile", "delete", "Ada"]) == 0
    s = ProfileStore(tmp_path / "data" / "profiles.db")
    assert s.users() == [] and s._db.execute("SELECT count(*) FROM near_misses").fetchone()[0] == 0
    s.close()
