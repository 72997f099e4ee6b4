"""Cues through the user's screen reader (ui/announcer.py), the screen-reader probe, and the status
area that must not flood the accessibility bus (ui/status.py). Offscreen; the same objects are
heard by a real Orca in tests/desktop/test_orca.py."""
from __future__ import annotations

import threading
import time

import pytest
from PySide6 import QtTest

from engine.types import Urgency
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.store import ProfileStore
from maxsight_app.ui.announcer import Announcer, ScreenReaderProbe, _orca_running, screen_reader_running, spoken_text
from maxsight_app.ui.qt import QAccessible, QtCore, QtWidgets
from maxsight_app.ui.status import REFRESH_S, StatusStrip


def danger(text="car, straight ahead, 2 metres"):
    return Cue(text, CueKind.HAZARD, Priority.NOW, Urgency.DANGER, 0.0, interrupt=True)


def polite(text):
    return Cue(text, CueKind.SUMMARY, Priority.NEXT, Urgency.SAFE, 0.0)


@pytest.fixture
def host(qtbot):
    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    lay = QtWidgets.QVBoxLayout(w)
    a = Announcer(w, method="notification")
    lay.addWidget(a.label)
    w.show()
    return w, a


def test_a_danger_from_the_engine_thread_reaches_the_notification(qtbot, host):
    _, a = host
    t = threading.Thread(target=a.emit, args=(danger(),))        # the session runs on the engine thread
    t.start()
    t.join()
    qtbot.waitUntil(lambda: a.label.text() == "Danger: car, straight ahead, 2 metres", timeout=3000)
    iface = QAccessible.queryAccessibleInterface(a.label)
    assert iface.role() == QAccessible.Role.Notification          # what Orca speaks when it is shown
    assert iface.text(QAccessible.Text.Name) == "Danger: car, straight ahead, 2 metres"
    assert a.label.isVisible()
    assert a.history[-1][1:] == ("Danger: car, straight ahead, 2 metres", True)


def test_the_urgency_word_is_said_once():
    assert spoken_text(Cue("Warning, person, 2 o'clock", CueKind.HAZARD, Priority.NEXT, Urgency.WARNING, 0.0)) == \
        "Warning, person, 2 o'clock"
    assert spoken_text(Cue("person, 2 o'clock", CueKind.HAZARD, Priority.NEXT, Urgency.WARNING, 0.0)) == \
        "Warning: person, 2 o'clock"
    assert spoken_text(polite("I see a chair")) == "I see a chair"
    assert spoken_text(danger("Stop! car, straight ahead, 2 metres")) == "Stop! car, straight ahead, 2 metres"


def test_dangers_go_first_and_polite_messages_wait_their_turn(qtbot, host):
    _, a = host
    a.emit(polite("first answer"))
    qtbot.waitUntil(lambda: len(a.history) == 1, timeout=2000)
    a.emit(danger())
    a.emit(polite("second answer"))
    qtbot.waitUntil(lambda: len(a.history) == 2, timeout=2000)
    t_danger = a.history[1][0]
    assert a.history[1][1].startswith("Danger") and a.history[1][2] is True      # no waiting for the answer
    assert a.label.text().startswith("Danger")                                   # nothing cut the danger off
    qtbot.waitUntil(lambda: len(a.history) == 3, timeout=10000)
    assert a.history[2][1:] == ("second answer", False)
    assert a.history[2][0] - t_danger >= 0.4 + 5 / 2.5 - 0.05        # it waited until the danger was said


def test_cancel_drops_what_is_still_waiting(qtbot, host):
    _, a = host
    a.emit(danger())
    a.emit(polite("stale answer"))
    qtbot.waitUntil(lambda: len(a.history) == 1, timeout=2000)
    a.cancel()                                                     # Esc, or a barge-in
    qtbot.wait(3500)
    assert [h[1] for h in a.history] == ["Danger: car, straight ahead, 2 metres"]


def test_the_window_gives_cues_to_the_screen_reader_when_one_runs(qtbot, tmp_path, installed_models):
    from tests.ui.helpers import make_window
    store = ProfileStore(tmp_path / "p.db")
    store.create_user("default")
    store.set_preference(1, "earcons", False)
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, screen_reader=True)      # speech_output: auto
    assert w.announcer in w.session.outputs
    assert "sound" not in w.runtime.output_names()          # auto: the screen reader speaks, not MaxSight's own voice
    w.session.say(danger("bus, 1 o'clock, 3 metres"))
    qtbot.waitUntil(lambda: any(t == "Danger: bus, 1 o'clock, 3 metres" and urgent for _, t, urgent in w.announcer.history),
                    timeout=3000)
    w.shutdown()
    store.close()


def test_the_screen_reader_probe_never_holds_up_the_window(monkeypatch):
    assert ScreenReaderProbe(lambda: True).result(5.0) is True
    slow = ScreenReaderProbe(lambda: time.sleep(3) or True)
    t0 = time.monotonic()
    assert slow.result(0.2) is False and time.monotonic() - t0 < 1.0
    from maxsight_app.ui import announcer

    def no_bus(prop, timeout_ms):
        raise OSError("no session bus")
    monkeypatch.setattr(announcer, "_orca_running", lambda: False)
    monkeypatch.setattr(announcer, "_a11y_status", no_bus)
    assert screen_reader_running() is False                  # a failing probe means "no", never a failed start
    monkeypatch.setattr(announcer, "_a11y_status", lambda prop, timeout_ms: prop == "ScreenReaderEnabled")
    assert screen_reader_running() is True


def test_an_orca_process_counts_as_a_screen_reader(tmp_path):
    proc = tmp_path / "proc"
    (proc / "101").mkdir(parents=True)
    (proc / "101" / "comm").write_text("python3\n")
    (proc / "101" / "cmdline").write_bytes(b"/usr/bin/python3\0-m\0http.server\0")
    assert _orca_running(proc) is False
    (proc / "202").mkdir()
    (proc / "202" / "comm").write_text("orca\n")
    (proc / "202" / "cmdline").write_bytes(b"/usr/bin/python3\0/usr/bin/orca\0--replace\0")
    assert _orca_running(proc) is True


def test_status_numbers_change_at_most_once_a_second_and_keep_their_name(qtbot):
    clock = [100.0]
    strip = StatusStrip(clock=lambda: clock[0])
    qtbot.addWidget(strip)
    strip.show()
    changes = []
    lab = strip.numbers
    strip.set_metric("fps", "9.0 fps")            # the first one shows at once
    for i in range(50):                           # five seconds of frames at 10 per second
        clock[0] += 0.1
        before = lab.text()
        strip.set_metric("fps", f"{9 + i / 100:.2f} fps")
        strip.set_metric("stage_a", f"Stage A {50 + i} ms")
        if lab.text() != before:
            changes.append(lab.text())
    assert 4 <= len(changes) <= int(5.0 / REFRESH_S) + 1
    assert QAccessible.queryAccessibleInterface(lab).text(QAccessible.Text.Name) == "Engine status"
    qtbot.waitUntil(lambda: lab.text() == "9.49 fps  ·  Stage A 99 ms", timeout=3000)    # the last value is never lost
    assert not strip.message.isVisible()
    strip.show_message("Stopped.")
    assert strip.message.isVisible() and strip.message.text() == "Stopped."


# -- nothing urgent is overwritten before it is read; the queue is trimmed (issue 27) ------------
class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def notice(text):
    return Cue(text, CueKind.SYSTEM, Priority.NEXT, Urgency.SAFE, 0.0)


def caution(text):
    return Cue(text, CueKind.HAZARD, Priority.NORMAL, Urgency.CAUTION, 0.0)


def name_of(label):
    return QAccessible.queryAccessibleInterface(label).text(QAccessible.Text.Name)


@pytest.fixture
def clocked(qtbot):
    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    lay = QtWidgets.QVBoxLayout(w)
    clock = FakeClock()
    a = Announcer(w, method="notification", clock=clock)
    lay.addWidget(a.label)
    w.show()
    return a, clock


def test_a_danger_followed_at_once_by_a_notice_keeps_its_words(qtbot, clocked):
    """Orca reads a notification's name when it gets to the event: the danger's label must still
    carry the danger then, however soon the next message comes (it went out as "The video has
    ended" in the same object, and the danger was never heard)."""
    a, clock = clocked
    shown = []
    a.announced.connect(lambda text, urgent: shown.append((text, a.label)))
    a.emit(danger("Stop! something, 9 metres"))
    a.emit(notice("The video has ended. Press F5 to play it again."))
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=5000)
    clock.t += 3.0                                   # the danger's own speaking time is over; Orca may still be behind
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=10000)
    (t1, lab1), (t2, lab2) = shown
    assert t1 == "Stop! something, 9 metres" and t2.startswith("The video has ended")
    assert lab1 is not lab2                          # a new object for the notice
    assert name_of(lab1) == "Stop! something, 9 metres" and lab1.text() == t1
    assert not lab1.isHidden() and lab2.isVisible()
    a.emit(danger("Stop! car, straight ahead, 2 metres"))    # a second danger at once: a third object
    qtbot.waitUntil(lambda: len(shown) == 3, timeout=5000)
    assert shown[2][1] not in (lab1, lab2) and name_of(lab1) == t1 and name_of(lab2) == t2
    clock.t += 40.0                                  # long read: the labels may carry new words again
    a.emit(notice("Stopped."))
    qtbot.waitUntil(lambda: len(shown) == 4, timeout=5000)
    assert shown[3][1] in (lab1, lab2, shown[2][1]) and name_of(shown[3][1]) == "Stopped."
    assert len(a.labels) == 3                        # labels are reused, not made for every message
    assert [lab for lab in a.labels if not lab.isHidden()] == [shown[3][1]]     # what was read left the screen


def test_stale_guidance_is_dropped_and_replies_go_first(qtbot, clocked):
    a, clock = clocked
    dropped = []
    a.dropped.connect(lambda text, why: dropped.append((text, why)))
    a.key_pressed()
    a.asked(CueKind.TEXT)                            # T
    clock.t += 0.5
    a.emit(danger())                                 # raised after the key: read to its end first
    qtbot.waitUntil(lambda: len(a.history) == 1, timeout=5000)
    a.emit(caution("chair, 1 o'clock, 3 metres"))
    a.emit(notice("Find mode off."))
    a.emit(Cue("Text 12 o'clock: EX", CueKind.TEXT, Priority.NEXT, Urgency.SAFE, 0.0))      # what T read
    a.emit(Cue("Text 12 o'clock: EXIT", CueKind.TEXT, Priority.NEXT, Urgency.SAFE, 0.0))    # a better reading: the first is stale
    qtbot.waitUntil(lambda: len(a.waiting) == 3, timeout=5000)
    assert [k for _, k in a.waiting] == ["reply", "guidance", "notice"]
    assert ("Text 12 o'clock: EX", "replaced") in dropped
    clock.t += 3.0                                   # the danger was read; the caution is 3 s old now
    qtbot.waitUntil(lambda: len(a.history) == 2, timeout=10000)
    assert a.history[1][1] == "Text 12 o'clock: EXIT"
    clock.t += 4.0                                   # the answer was read
    qtbot.waitUntil(lambda: len(a.history) == 3, timeout=10000)
    assert a.history[2][1] == "Find mode off."
    assert ("Caution: chair, 1 o'clock, 3 metres", "stale") in dropped


def test_a_key_pressed_while_a_warning_is_read_is_answered_at_once(qtbot, clocked):
    """The screen reader stopped reading the warning at the key press: P's "Paused" (and W's
    answer) go out at once, not after the warning's reading time (1.3 s late in the Orca run);
    a notice still waits for the warning. A key within CUT_GRACE_S of the warning (the screen
    reader may not have started it) or a mouse click does not cut it: the reply waits."""
    from maxsight_app.ui.announcer import CUT_GRACE_S
    a, clock = clocked
    dropped = []
    a.dropped.connect(lambda text, why: dropped.append((text, why)))
    a.emit(danger())
    qtbot.waitUntil(lambda: len(a.history) == 1, timeout=5000)
    clock.t += CUT_GRACE_S / 2
    a.key_pressed()                                  # too soon after the warning went out
    a.reply("Resumed.")
    qtbot.waitUntil(lambda: a.waiting == [("Resumed.", "reply")], timeout=5000)
    clock.t += CUT_GRACE_S
    QtTest.QTest.keyClick(a.host, QtCore.Qt.Key.Key_P)     # a real key press, seen by the announcer's filter:
    assert [h[1] for h in a.history[1:]] == ["Resumed."]    # ... it cut the warning, the waiting answer goes
    a.say("The video has ended.")
    a.reply("Paused. Press P to resume.")
    a.emit(Cue("what's around: a chair", CueKind.SUMMARY, Priority.NEXT, Urgency.SAFE, 0.0))
    qtbot.waitUntil(lambda: len(a.history) == 4, timeout=5000)
    assert [h[1] for h in a.history[1:]] == ["Resumed.", "Paused. Press P to resume.", "what's around: a chair"]
    assert a.history[1][0] == a.history[2][0] == a.history[3][0] == clock.t          # no wait
    assert a.waiting == [("The video has ended.", "notice")] and dropped == []


def test_a_click_does_not_cut_a_warning(qtbot, clocked):
    a, clock = clocked
    a.emit(danger())
    qtbot.waitUntil(lambda: len(a.history) == 1, timeout=5000)
    clock.t += 1.0
    QtTest.QTest.mouseClick(a.host, QtCore.Qt.MouseButton.LeftButton)
    a.reply("Paused. Press P to resume.")
    qtbot.waitUntil(lambda: a.waiting == [("Paused. Press P to resume.", "reply")], timeout=5000)
    clock.t += 3.0                                   # the danger was read
    qtbot.waitUntil(lambda: len(a.history) == 2, timeout=10000)
    assert a.history[1][1] == "Paused. Press P to resume."


def test_a_reply_is_not_held_up_by_a_notice_being_read(qtbot, clocked):
    """P's "Paused" comes at once, even while a long notice is still being read (not after it)."""
    a, _ = clocked
    a.say("MaxSight could not find a camera. Open a video file instead: press Control O.")
    qtbot.waitUntil(lambda: len(a.history) == 1, timeout=5000)
    a.reply("Paused. Press P to resume.")
    qtbot.waitUntil(lambda: len(a.history) == 2, timeout=5000)
    assert a.history[1][1] == "Paused. Press P to resume." and a.history[1][0] == a.history[0][0]   # same clock: no wait


def test_cancel_on_the_gui_thread_drops_pending_hints_at_once(qtbot, clocked):
    a, _ = clocked
    a.emit(danger())
    for i in range(5):
        a.say(f"Left edge not visible: move left ({i}).", kind="guidance")
    a.say("The page has 3 paragraphs.")
    qtbot.waitUntil(lambda: len(a.waiting) == 3, timeout=5000)     # two hints (the rest trimmed) and the notice
    a.cancel()                                                     # Esc
    assert a.waiting == []
    a.say("Left document mode.")
    qtbot.waitUntil(lambda: a.waiting == [("Left document mode.", "notice")], timeout=5000)


def test_the_text_read_for_t_is_dropped_when_it_comes_too_late(qtbot, clocked):
    from maxsight_app.ui.announcer import ANSWER_STALE_S
    a, clock = clocked
    dropped = []
    a.dropped.connect(lambda text, why: dropped.append((text, why)))
    text = Cue("Text 12 o'clock: EXIT", CueKind.TEXT, Priority.NEXT, Urgency.SAFE, 0.0)
    a.asked(CueKind.TEXT)                              # T
    a.emit(text)
    qtbot.waitUntil(lambda: [h[1] for h in a.history] == ["Text 12 o'clock: EXIT"], timeout=5000)
    a.asked(CueKind.TEXT)
    clock.t += ANSWER_STALE_S + 21                     # the reader was slow: 31 s
    a.emit(text)
    qtbot.waitUntil(lambda: dropped == [("Text 12 o'clock: EXIT", "stale")], timeout=5000)
    assert len(a.history) == 1
