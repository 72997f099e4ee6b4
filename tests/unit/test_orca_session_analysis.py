"""The long Orca session's arithmetic (tests/desktop/orca_session.py), on a hand-made log whose
answers are known: a warning spoken 0.4 s after it was raised, P answered in 0.3 s (twice, with the
same words), W never answered (a caution raised before it and spoken after it is not its answer),
a notice spoken 3 s late (stale), a warning never spoken."""
from __future__ import annotations

import datetime as dt

from tests.desktop.orca_session import _day_seconds, analyse
from tests.desktop.test_orca import Said

E = dt.datetime(2026, 12, 6, 8, 0, 0).timestamp()


def _note(t, name):
    return {"type": "object:state-changed:showing", "role": "notification", "detail1": 1, "name": name, "t": E + t}


def test_the_session_figures_from_a_known_log():
    events = [_note(0.0, "Warning, person, straight ahead, 4 metres"), _note(10.1, "Paused. Press P to resume."),
              _note(12.05, "Paused. Press P to resume."), _note(19.9, "chair, 10 o'clock, 3 metres"),
              _note(30.0, "The video has ended"), _note(40.0, "Stop! car, 1 o'clock, 3 metres")]
    day = _day_seconds(E)
    said = [Said(day + 0.4, "notification Warning, person, straight ahead, 4 metres"),
            Said(day + 10.0, "p "),                                          # the key's echo is not its answer
            Said(day + 10.3, "notification Paused. Press P to resume."),
            Said(day + 12.3, "notification Paused. Press P to resume."),
            Said(day + 20.2, "notification chair, 10 o'clock, 3 metres"),    # raised before W: not W's answer
            Said(day + 33.0, "notification The video has ended")]
    r = analyse(said, events, [(E + 10.0, "p"), (E + 12.0, "p"), (E + 20.0, "w"), (E + 21.0, "Tab")])
    assert r["warnings_and_dangers"] == 2 and r["spoken"] == 1
    assert r["not_spoken"] == ["Stop! car, 1 o'clock, 3 metres"]
    assert r["urgent_delay_p50_s"] == 0.4
    assert [a["key"] for a in r["answers"]] == ["p", "p"] and abs(r["key_answer_p95_s"] - 0.3) < 1e-6
    assert [u["key"] for u in r["key_presses_unanswered"]] == ["w"]
    assert r["stale_count"] == 1 and r["stale"][0][0] == "The video has ended"
