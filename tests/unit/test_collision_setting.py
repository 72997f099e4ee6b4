"""The collision lane's setting: its two operating points, the command line's choice, and the
profile's obstacle_warnings followed live by a running session (the real pipeline and lane)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.config import COLLISION_SENSITIVITY, CollisionConfig, EngineConfig, collision_config
from engine.pipeline import Pipeline
from engine.types import Frame
from maxsight_app.cli import build_parser
from maxsight_app.commands.common import engine_config
from maxsight_app.profile.schema import ObstacleWarnings, Profile
from maxsight_app.profile.store import ProfileStore
from maxsight_app.session import Session


def test_operating_points():
    assert collision_config("off").enabled is False
    assert collision_config("on") == collision_config("fewer") == CollisionConfig(enabled=True)
    more = collision_config("more")
    assert more.enabled and more != collision_config("fewer")
    assert {k: getattr(more, k) for k in COLLISION_SENSITIVITY["more"]} == COLLISION_SENSITIVITY["more"]
    with pytest.raises(ValueError, match="off, on, fewer or more"):
        collision_config("loud")


@pytest.mark.parametrize("argv, enabled, from_profile", [
    ([], False, True),                       # not given: the profile decides, off until the session sets it
    (["--collision", "off"], False, False),
    (["--collision", "on"], True, False),
    (["--collision", "more"], True, False),
])
def test_command_line(argv, enabled, from_profile):
    args = build_parser().parse_args(["run", "--source", "clip.mp4", "--headless", *argv])
    cfg = engine_config(args, follow_profile=True)
    assert cfg.collision.enabled is enabled and cfg.collision_from_profile is from_profile
    if argv[-1:] == ["more"]:
        assert cfg.collision == collision_config("more")
    if argv[-1:] == ["on"]:
        assert cfg.collision == CollisionConfig(enabled=True)          # what the fit chose


@pytest.mark.parametrize("argv", [["eval", "safety"], ["eval", "cues"], ["soak"]])
def test_evaluations_never_follow_the_profile(argv):
    """A setting picked once in the app must not change what an evaluation or the soak measures."""
    cfg = engine_config(build_parser().parse_args(argv))
    assert cfg.collision.enabled is False and cfg.collision_from_profile is False
    cfg = engine_config(build_parser().parse_args([*argv, "--collision", "more"]))
    assert cfg.collision == collision_config("more") and cfg.collision_from_profile is False


def _frames(n: int, start: int = 0):
    rng = np.random.default_rng(start)
    for i in range(start, start + n):
        yield Frame(i, i / 10, rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))


def test_session_follows_the_profile_live(installed_models):
    pipe = Pipeline(EngineConfig(detector="nanodet", threads=1, device="cpu", access="", collision_from_profile=True),
                    installed_models)
    session = Session(pipe, profile=Profile())
    seen = []
    for i, want in enumerate((ObstacleWarnings.OFF, ObstacleWarnings.MORE, ObstacleWarnings.FEWER, ObstacleWarnings.OFF)):
        session.profile = replace(session.profile, obstacle_warnings=want)
        lanes, timed = [], []
        for f in _frames(3, 3 * i):
            timed.append("collision" in session.handle(f).result.timings_ms)
            lanes.append(pipe.collision)
        # While the setting stays, it is one lane from frame to frame (its evidence builds up).
        assert all(lane is lanes[0] for lane in lanes)
        seen.append((pipe.collision.config if pipe.collision is not None else None, timed))
    assert seen[0] == (None, [False] * 3)
    assert seen[1] == (collision_config("more"), [True] * 3)
    assert seen[2] == (collision_config("fewer"), [True] * 3)
    assert seen[3] == (None, [False] * 3)


def test_the_command_line_choice_wins_over_the_profile(installed_models):
    pipe = Pipeline(EngineConfig(detector="nanodet", threads=1, device="cpu", access="", collision=collision_config("on")),
                    installed_models)
    session = Session(pipe, profile=Profile(obstacle_warnings=ObstacleWarnings.OFF))
    for f in _frames(2):
        session.handle(f)
    assert pipe.collision is not None and pipe.collision.config == collision_config("fewer")


def test_the_setting_is_kept_in_the_profile(tmp_path):
    store = ProfileStore(tmp_path / "profiles.db")
    uid = store.create_user("Ada")
    assert store.profile(uid).obstacle_warnings is ObstacleWarnings.OFF
    store.set_preference(uid, "obstacle_warnings", "more")
    assert store.profile(uid).obstacle_warnings is ObstacleWarnings.MORE
    with pytest.raises(Exception, match="obstacle_warnings"):
        store.set_preference(uid, "obstacle_warnings", "always")
    store.close()


def test_eval_collide_refuses_a_point_with_fit_in_one_sentence(capsys):
    """--fit chooses the operating point itself: asking for one as well is refused, not ignored."""
    from maxsight_app.cli import main
    assert main(["eval", "collide", "--fit", "--sensitivity", "more", "--no-null"]) == 2
    err = capsys.readouterr().err
    assert "leave out --sensitivity" in err and "Traceback" not in err and err.count("\n") == 1


def test_eval_collide_refuses_a_frame_rate_out_of_range_in_one_sentence(capsys):
    from maxsight_app.cli import main
    assert main(["eval", "collide", "--fps", "2", "--no-null"]) == 2
    err = capsys.readouterr().err
    assert "--fps must be between 5 and 60" in err and "Traceback" not in err and err.count("\n") == 1


def test_walks_render_at_the_frame_rate_asked():
    """eval collide --fps: the same walk, three times the frames at 30 fps, on the same clock."""
    from maxsight_app.measure import collide
    scene = collide.make_scene("wall", 1)
    times = {fps: [t for t, _, _ in collide.frames(scene, width=80, height=60, fps=fps)] for fps in (10, 30)}
    assert abs(len(times[30]) - 3 * len(times[10])) <= 3
    assert abs(times[30][-1] - times[10][-1]) < 0.1 and times[30][1] == pytest.approx(1 / 30)
