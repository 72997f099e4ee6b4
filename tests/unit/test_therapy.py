"""Therapy: tasks, the fatigue estimate on a scripted session with slowing answers, SQLite logging,
and a report with real plot files."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.fakes.clock import Clock

from maxsight_app.profile.store import ProfileStore
from maxsight_app.therapy import fatigue, report
from maxsight_app.therapy.session import TherapySession
from maxsight_app.therapy.tasks import PHRASES, ContrastChart, FindObject, Reading


@pytest.fixture
def store(tmp_path):
    s = ProfileStore(tmp_path / "p.db")
    s.create_user("Ada")
    s.set_preferences(1, {"vision_condition": "glaucoma", "vision_severity": 0.5})
    yield s
    s.close()


def test_contrast_staircase_converges_near_the_viewers_threshold():
    """A simulated viewer who sees letters above 5% contrast (with 4% lapses)."""
    chart = ContrastChart(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(80):
        p = chart.next_prompt()
        sees = p.level > 0.05 and rng.random() > 0.04
        chart.check(p.text if sees else "X")
    assert 0.03 < chart.threshold() < 0.09


def test_contrast_card_has_the_asked_contrast():
    img = ContrastChart.render("K", 0.25)
    bg, letter = 160, img.min()
    assert (bg - letter) / bg == pytest.approx(0.25, abs=0.01)


def test_find_and_reading_checks():
    f = FindObject(seed=0)
    assert f.next_prompt(visible=()) is None
    p = f.next_prompt(visible=("chair", "person"))
    assert f.check("found", visible=(p.text,)) and not f.check("found", visible=("cup",))
    r = Reading(seed=0)
    p = r.next_prompt()
    size = p.level
    assert r.check(p.text.upper() + " ") and r.size < size
    r.next_prompt()
    assert not r.check("something else entirely")


def test_fatigue_model_numbers():
    steady = fatigue.estimate([1.0] * 12, [True] * 12, 3.0)
    assert steady.fatigue == 0 and steady.advice == "continue"
    slower = fatigue.estimate([1.0] * 6 + [1.5] * 6, [True] * 12, 3.0)
    assert slower.slowing == pytest.approx(0.5) and slower.fatigue == pytest.approx(0.6) and slower.advice == "break"
    assert fatigue.estimate([1.0] * 12, [True] * 12, 16.0).advice == "break"        # long enough for a rest anyway


def test_a_session_with_slowing_answers_raises_fatigue_breaks_and_pauses(store):
    clock = Clock()
    s = TherapySession(store, 1, plan=("contrast",), trials_per_task=40, clock=clock, seed=3)
    messages, fatigues = [], []
    for i in range(40):
        p = s.next_prompt()
        if p is None:
            break
        clock.t += 1.0 + 0.12 * max(0, i - 8)            # answers slow down after 8 trials
        answer = p.text if i < 12 or i % 3 else "X"      # and errors creep in
        out = s.respond(answer)
        fatigues.append(out.fatigue.fatigue)
        if out.message:
            messages.append(out.message)
    assert fatigues[9] < 0.2 and max(fatigues) >= fatigue.PAUSE_AT
    assert any("short break" in m for m in messages)
    assert s.paused and "paused" in messages[-1]
    assert s.next_prompt() is None                        # nothing while paused
    clock.t += 120
    s.resume()
    assert s.next_prompt() is not None and s.working_minutes() < 2.5   # the rest does not count as work
    clock.t += 1.0
    assert s.respond("K").fatigue.fatigue == 0.0                       # a fresh baseline after the rest
    fatigues.append(0.0)
    s.end("stopped")
    row = store.therapy_session(s.session_id)
    assert row["trials"] == len(fatigues) and row["ended_by"] == "stopped" and row["condition"] == "glaucoma"
    assert row["fatigue_max"] >= fatigue.PAUSE_AT and row["breaks"] >= 2
    logged = store.therapy_trials(s.session_id)
    assert len(logged) == len(fatigues) and {t["task"] for t in logged} == {"contrast chart"}
    assert [t["n"] for t in logged] == list(range(1, len(logged) + 1))    # numbering survives the rest


def test_answering_without_a_prompt_is_an_error(store):
    s = TherapySession(store, 1, clock=Clock())
    with pytest.raises(ValueError, match="no open prompt"):
        s.respond("K")
    with pytest.raises(ValueError, match="unknown task 'juggling'"):
        TherapySession(store, 1, plan=("juggling",))


def test_report_has_plots_and_csv(store, tmp_path):
    clock = Clock()
    for session in range(3):
        s = TherapySession(store, 1, plan=("contrast", "reading"), trials_per_task=10, clock=clock, seed=session)
        while (p := s.next_prompt()) is not None:
            clock.t += 1.5 - 0.2 * session
            s.respond(p.text)
    rep = report.generate(store, 1, tmp_path / "reports")
    assert rep.sessions == 3
    assert rep.png.stat().st_size > 20_000 and rep.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rep.pdf.stat().st_size > 5_000 and rep.pdf.read_bytes()[:5] == b"%PDF-"
    sessions = list(csv.DictReader(open(rep.sessions_csv)))
    assert len(sessions) == 3 and all(r["ended_by"] == "completed" for r in sessions)
    assert float(sessions[2]["mean_rt_s"]) < float(sessions[0]["mean_rt_s"])
    assert len(list(csv.DictReader(open(rep.trials_csv)))) == 60


def test_report_without_sessions_says_so(store, tmp_path):
    with pytest.raises(ValueError, match="has no therapy sessions yet"):
        report.generate(store, 1, tmp_path)


def test_reading_uses_text_the_camera_reads_when_there_is_some():
    r = Reading(seed=0)
    p = r.next_prompt(texts=(("EXIT", 0.7), ("Platform 2 this way", 0.95), ("###", 0.99), ("a very long line of small print here", 0.99)))
    assert p.real and p.text == "Platform 2 this way" and "camera" in p.instruction
    size = r.size
    assert r.check("the bus stops here") is False and r.check("Platform 2  this way") is True
    assert r.size == size                              # real text has its own size: the card's does not change
    p = r.next_prompt(texts=())
    assert not p.real and p.text in PHRASES and p.level == size


@pytest.mark.slow
def test_reading_task_reads_real_text_through_the_reader(eval_data):
    """The same reader as "read text now" reads a street sign; the task asks for what it read."""
    import cv2

    from engine.stage_b.ocr import TextReader
    sign = cv2.imread(str(eval_data / "coco_val2017_128" / "images" / "000000001532.jpg"))
    reads = TextReader().read(sign)
    p = Reading(seed=0).next_prompt(texts=tuple((t.text, t.score) for t in reads))
    assert p.real and p.text in {t.text for t in reads}
