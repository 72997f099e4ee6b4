"""One composition root: the command line and the window build the same runtime from one profile,
and a changed profile reaches the policy, the outputs and the Stage B worker live."""
from __future__ import annotations

import numpy as np
import pytest

from engine.config import EngineConfig, Tier
from engine.types import AudioChunk, Frame
from maxsight_app.compose import apply_profile, build_runtime
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.store import ProfileStore


@pytest.mark.slow
def test_the_cli_and_the_window_build_the_same_runtime(qtbot, tmp_path, monkeypatch, installed_models):
    from maxsight_app.cli import build_parser
    from maxsight_app.commands.run import make_runtime
    from maxsight_app.ui.main_window import MainWindow
    monkeypatch.setenv("MAXSIGHT_DATA", str(tmp_path))
    store = ProfileStore(tmp_path / "profiles.db")
    uid = store.create_user("default")
    store.set_preferences(uid, {"captions": False, "sound_alerts": "siren,doorbell", "speech": False})
    args = build_parser().parse_args(["run", "--source", "0", "--headless", "--speak"])
    cli = make_runtime(args)
    # The machine's own screen reader is not asked (a developer's Orca made the window add the
    # screen-reader output here while the CLI did not): both are told there is none.
    window = MainWindow(store, uid, probe_cameras=False, source=None, screen_reader=False)
    qtbot.addWidget(window)
    try:
        gui = window.runtime
        assert cli.config.tier == gui.config.tier == EngineConfig().tier            # no more T0 here, T4 there
        assert cli.config.detector == gui.config.detector
        assert cli.stage_b_tasks == gui.stage_b_tasks                                 # captions off in both
        assert "captions" not in cli.stage_b_tasks and "recognition" in cli.stage_b_tasks   # T4 starts your objects
        assert cli.stage_b.specs["sounds"].kwargs["enabled"] == ("siren", "doorbell") == \
            gui.stage_b.specs["sounds"].kwargs["enabled"]
        assert cli.output_names() == gui.output_names()
        assert cli.profile == gui.profile
    finally:
        cli.close()
        window.shutdown()
        store.close()


@pytest.mark.slow
def test_editing_sound_alerts_live_changes_the_stage_b_worker(installed_models, eval_data):
    """A crying baby is not reported while the user's sound alerts leave it out; once they add it,
    the worker reports it: the filter changed inside the running worker process."""
    from maxsight_app.capture.audio_file import load_audio
    from maxsight_app.profile.schema import Profile
    baby = load_audio(eval_data / "sound_events_small" / "audio" / "esc10_crying_baby_test_1-60997-B.mp3")
    spy = SpyOutput()
    rt = build_runtime(Profile(sound_alerts=("doorbell",)), EngineConfig(tier=Tier.T1), registry=installed_models,
                       with_outputs=False, extra_outputs=[spy])
    try:
        assert rt.stage_b_tasks == ("sounds",)
        image = np.zeros((120, 160, 3), np.uint8)

        stream = np.tile(baby, 4)

        def hear(seconds, t0):
            sounds = []
            for i in range(int(seconds * 10)):
                t = t0 + i / 10
                at = int(t * 16000) % (len(stream) - 1600)
                sounds += rt.session.handle(Frame(int(t * 10), t, image), AudioChunk(t, stream[at:at + 1600], 16000)).result.sounds
                rt.stage_b.wait_idle(60, "sounds")       # events, not the clock: each job is waited for
            return sounds + list(rt.session.handle(Frame(int(t0 * 10) + 999, t0 + seconds, image)).result.sounds)
        assert [s.label for s in hear(5.0, 0.0)] == []                       # filtered out in the worker
        apply_profile(rt, Profile(sound_alerts=("doorbell", "baby_crying")))
        assert rt.stage_b.specs["sounds"].kwargs["enabled"] == ("doorbell", "baby_crying")
        assert "baby_crying" in {s.label for s in hear(5.0, 5.0)}            # the live edit reached it
    finally:
        rt.close()


@pytest.mark.slow
def test_teaching_a_sound_reaches_the_running_worker_and_is_said_by_name(installed_models, eval_data):
    """The user's own sound travels with the profile: apply_profile hands the embeddings to the
    running Stage B worker (never the database), which then hears the sound and the policy says
    it by name, as a warning because it is an alarm."""
    import csv

    from maxsight_app.capture.audio_file import load_audio
    from maxsight_app.cues.types import CueKind
    from maxsight_app.measure.sounds import detector
    from maxsight_app.profile.schema import Profile
    from engine.types import Urgency
    folder = eval_data / "sound_events_more"
    alarms = sorted(folder / "audio" / r["file"] for r in csv.DictReader(open(folder / "labels.csv")) if r["label"] == "fire_alarm_beeps")
    det = detector(installed_models)
    taught = np.concatenate([det.teaching_embeddings(load_audio(p)) for p in alarms[:3]])
    spy = SpyOutput()
    rt = build_runtime(Profile(sound_alerts=("doorbell",)), EngineConfig(tier=Tier.T1), registry=installed_models,
                       with_outputs=False, extra_outputs=[spy])
    try:
        apply_profile(rt, Profile(sound_alerts=("doorbell",), custom_sounds={"my smoke alarm": taught}))
        assert list(rt.stage_b.specs["sounds"].kwargs["custom"]) == ["my smoke alarm"]
        x = np.concatenate([load_audio(alarms[4]), np.zeros(32000, np.float32)])
        image = np.zeros((120, 160, 3), np.uint8)
        heard = []
        for i in range(0, len(x), 1600):
            t = i / 16000
            heard += rt.session.handle(Frame(i // 1600, t, image), AudioChunk(t, x[i:i + 1600], 16000)).result.sounds
            rt.stage_b.wait_idle(60, "sounds")
        heard += rt.session.handle(Frame(9999, 99.0, image)).result.sounds
        assert [(s.label, s.own) for s in heard] == [("my smoke alarm", True)]
        said = [(c.text, c.urgency) for c in spy.cues if c.kind is CueKind.SOUND]
        assert said == [("Your smoke alarm", Urgency.WARNING)]
    finally:
        rt.close()


def test_a_changed_profile_rebuilds_outputs_only_when_they_change(installed_models):
    from maxsight_app.profile.schema import Profile
    rt = build_runtime(Profile(speech=False, earcons=False), EngineConfig(tier=Tier.T0), registry=installed_models)
    try:
        before = list(rt.session.outputs)
        notes = apply_profile(rt, rt.profile.replace(cooldown_s=20.0))
        assert rt.session.outputs == before and notes == []                   # nothing rebuilt, nothing re-said
        assert rt.session.profile.cooldown_s == 20.0                           # the policy reads it next frame
        apply_profile(rt, rt.profile.replace(screen_alerts=False))
        assert not any(o.name == "screen" for o in rt.session.outputs)
    finally:
        rt.close()


def test_notes_are_said_once(installed_models):
    from maxsight_app.profile.schema import Profile
    rt = build_runtime(Profile(speech=False, earcons=True), EngineConfig(tier=Tier.T0), registry=installed_models)
    try:
        first = list(rt.notes)
        again = apply_profile(rt, rt.profile.replace(tone_volume=0.5))       # outputs rebuilt, same situation
        assert all(n not in again for n in first)
    finally:
        rt.close()


def test_the_app_never_loads_torch(tmp_path):
    """torch is the training extra: 700 MB of resident memory and 3 s of start-up the app must not pay."""
    import subprocess
    import sys
    code = ("import sys\nfrom engine.config import EngineConfig, Tier\nfrom maxsight_app.compose import build_runtime\n"
            "from maxsight_app.profile.schema import Profile\n"
            "rt = build_runtime(Profile(speech=False), EngineConfig(tier=Tier.T0))\nrt.close()\n"
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "False", r.stderr


def test_a_screen_reader_started_later_takes_the_cues_on_automatic_only(installed_models):
    from maxsight_app.compose import set_screen_reader
    from maxsight_app.profile.schema import Profile, SpeechOutput
    reader = SpyOutput()                    # stands in for the window's announcer (a platform API)
    rt = build_runtime(Profile(speech=False, earcons=False), EngineConfig(tier=Tier.T0), registry=installed_models,
                       announcer=reader, screen_reader=False)
    try:
        assert reader not in rt.session.outputs
        notes = set_screen_reader(rt, True)
        assert reader in rt.session.outputs and notes == ["A screen reader is running: cues now go to it."]
        assert set_screen_reader(rt, True) == []                             # no change, nothing said
        assert set_screen_reader(rt, False)[-1].startswith("The screen reader stopped")
        assert reader not in rt.session.outputs
        apply_profile(rt, rt.profile.replace(speech_output=SpeechOutput.OWN_VOICE))
        assert set_screen_reader(rt, True) == [] and reader not in rt.session.outputs   # the user chose their own voice
    finally:
        rt.close()
