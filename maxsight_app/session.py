"""Session: one frame through Stage A, the cue policy and the outputs. Qt-free; the desktop app's
worker and the headless commands both drive it.

What the session owns: the pipeline, the policy, the user's current Profile and the outputs, and
the media clock. What it never does: build any of them (compose.py does), or touch a widget.

Time: the policy and the WAV timeline run on media time, the frame's timestamp plus the time
spent on it so far, so a replayed video behaves as it would live and cue latency shows up in
what a listener would have heard. Media time never goes back: when the video's own clock does (the
same video again, another source, see `restart`) it goes on from where it was, and the policy
forgets the old tracks, so its cue timers and budget keep working (cautions went silent after a
replay while the policy waited for a time it had already seen).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from engine.config import CameraModel, collision_config
from engine.pipeline import Pipeline
from engine.types import AudioChunk, Frame, FrameResult, Urgency
from maxsight_app.cues.policy import CuePolicy
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.cues.watch import WatchFor, text_distance
from maxsight_app.find import FindMode, FindTarget, Guidance
from maxsight_app.profile.schema import Profile

log = logging.getLogger(__name__)

REQUESTS = ("repeat", "summary", "describe", "read_text", "snooze", "stop")


@dataclass
class Tick:
    result: FrameResult
    cues: list[Cue]
    latency_ms: list[float] = field(default_factory=list)   # frame in hand -> cue emitted, per cue
    guidance: Guidance | None = None                         # find mode's answer for this frame, when it is on


class Session:
    """Drives one frame at a time through pipeline -> policy -> outputs."""

    def __init__(self, pipeline: Pipeline, policy: CuePolicy | None = None, profile: Profile | None = None,
                 outputs: list | None = None):
        self.pipeline = pipeline
        self.policy = policy or CuePolicy()
        self.profile = profile or Profile()
        self.outputs = list(outputs or [])
        self._frame_t = 0.0
        self.recent_sounds: list = []     # the last few sound events, for scene descriptions
        self.find: FindMode | None = None  # find mode (maxsight_app/find.py), when the user is looking for something
        self._frame_wall = time.perf_counter()
        self._epoch = 0.0                  # media time = _epoch + the video's own time
        # Replay evaluations: a fixed time for handling each frame, in place of the wall clock's,
        # so that a busy machine hears the same cues at the same times as a quiet one.
        self.replay_latency_s: float | None = None
        self._restarted = False
        self.near_misses = None            # a NearMissRecorder (maxsight_app/nearmiss.py): the opt-in log
        self.watch: WatchFor | None = None  # the words the user watches for (cues/watch.py)
        self._watch_asked = False          # start_watch was called (--watch-for): it wins over the profile's words
        self._watch_pref = ""              # the profile's watch_for the watch was last set from
        # The collision lane follows the profile's obstacle_warnings unless the command line chose it.
        self._collision_follows = getattr(getattr(pipeline, "config", None), "collision_from_profile", False)
        self._collision_pref = None        # the setting the lane was last set from

    def media_time(self) -> float:
        if self.replay_latency_s is not None:
            return self._epoch + self._frame_t + self.replay_latency_s
        return self._epoch + self._frame_t + (time.perf_counter() - self._frame_wall)

    def restart(self) -> None:
        """A new source, or the same video again: the pipeline and the policy start afresh with the
        next frame, and media time goes on from where it is."""
        if self.pipeline is not None:
            self.pipeline.reset()
        self._restarted = True

    def handle(self, frame: Frame, audio: AudioChunk | None = None) -> Tick:
        if self._restarted or frame.timestamp < self._frame_t:      # the video's clock went back
            self._epoch = self.media_time() - frame.timestamp
            self._restarted = False
            self.recent_sounds = []
            new_source = getattr(self.policy, "new_source", None)
            if new_source is not None:
                new_source()
        self._frame_t, self._frame_wall = frame.timestamp, time.perf_counter()
        if not self._watch_asked and self.profile.watch_for != self._watch_pref:    # the preference changed
            self._watch_pref = self.profile.watch_for
            self._set_watch(self.profile.watch_for)
        if self._collision_follows and self.profile.obstacle_warnings is not self._collision_pref:
            self._collision_pref = self.profile.obstacle_warnings
            self.pipeline.set_collision(collision_config(self._collision_pref.value))
        result = self.pipeline.step(frame, audio)
        if result.sounds:
            self.recent_sounds = (self.recent_sounds + list(result.sounds))[-5:]
        cues = self.policy.decide(result, self.profile, self.media_time(), self._voice_busy_s())
        guidance = None
        if self.find is not None:
            guidance = self.find.update(result, frame.image, self.media_time(), self.profile.vision_condition,
                                        self.profile.vision_severity)
            self._guide(guidance.tone)       # first, so speech being made does not delay it; the sinks duck it
            # The tone already says where the target is: a caution about it ("door, straight ahead,
            # 2.5 metres" just after "door found") only talks over the guidance. Warnings and dangers
            # about it are still said.
            target = self.find.s.track_id
            # (A group that speaks for other things too is still said: the policy counts them as said.)
            cues = [c for c in cues if not (c.kind is CueKind.HAZARD and c.urgency <= Urgency.CAUTION and target is not None
                                            and {c.track_id, *c.group} == {target})]
        cues += self._watched(result)
        if guidance is not None and guidance.cues or len(cues) > 1:
            cues = [c for c in cues if c.kind is not CueKind.TICK]      # something is said: no "nothing to say" tick
        latencies = [self._emit(c) for c in cues]
        if guidance is not None:             # find's words after the policy's: hazards are said first
            for c in guidance.cues:
                cues.append(c)
                latencies.append(self._emit(c))
        if self.near_misses is not None and self.profile.near_miss_log:   # queued; written off this thread
            self.near_misses.offer(cues, guidance, frame.image, self.profile)
        return Tick(result, cues, latencies, guidance)

    def _voice_busy_s(self) -> float:
        return max((out.backlog_s() for out in self.outputs if hasattr(out, "backlog_s")), default=0.0)

    def finish(self, last: FrameResult, timeout_s: float | None = None) -> Tick | None:
        """A file ended: Stage B's last answers for it (Pipeline.finish), through the policy and the
        outputs like any frame's, so the last words spoken in a file are still captioned. None when
        Stage B owed nothing."""
        result = self.pipeline.finish(last) if timeout_s is None else self.pipeline.finish(last, timeout_s)
        if result is None:
            return None
        if result.sounds:
            self.recent_sounds = (self.recent_sounds + list(result.sounds))[-5:]
        cues = self.policy.decide(result, self.profile, self.media_time(), self._voice_busy_s()) + self._watched(result)
        cues = [c for c in cues if c.kind is not CueKind.TICK]   # the file ended: nothing is being watched
        return Tick(result, cues, [self._emit(c) for c in cues])

    def start_watch(self, words) -> tuple[str, ...]:
        """Watch for these words (a comma-separated string or a list; ValueError in one sentence
        for bad ones) instead of the profile's watch_for: said once per sighting, with a rising
        earcon from where they were read; the text reader reads more often meanwhile. No words:
        watching stops."""
        self._watch_asked = True
        return self._set_watch(words)

    def _set_watch(self, words) -> tuple[str, ...]:
        watch = WatchFor(words) if words else None
        self.watch = watch if watch is not None and watch.words else None
        if hasattr(self.pipeline, "watch_text"):
            self.pipeline.watch_text(self.watch is not None)
        return self.watch.words if self.watch is not None else ()

    def _watched(self, result: FrameResult) -> list[Cue]:
        if self.watch is None or not result.texts:
            return []
        camera = getattr(getattr(self.pipeline, "config", None), "camera", None) or CameraModel()
        focal = camera.focal_px(result.image_size[0])

        def where(read):
            return text_distance(read, result.hazards, focal)
        return [Cue(s.words(self.profile.units), CueKind.WATCH, Priority.NEXT, Urgency.SAFE, result.timestamp, label=s.word,
                    bearing_deg=s.bearing_deg, clock=s.clock, distance_m=s.distance_m)
                for s in self.watch.update(result.texts, self.media_time(), where)]

    def start_find(self, target: FindTarget) -> None:
        """Look for `target` from the next frame on (a search already running is replaced)."""
        camera = getattr(getattr(self.pipeline, "config", None), "camera", None)
        self.find = FindMode(target, camera.hfov_deg if camera is not None else 60.0)

    def stop_find(self) -> None:
        self.find = None
        self._guide(None)

    def _guide(self, tone) -> None:
        for out in self.outputs:
            guide = getattr(out, "guide", None)
            if guide is None:
                continue
            try:
                guide(tone)
            except Exception:  # noqa: BLE001 - a broken tone must not stop the frame loop
                log.exception("guidance tone on %s failed", getattr(out, "name", out))

    def _emit(self, cue: Cue) -> float:
        spoke = getattr(self.policy, "spoke", None)
        if spoke is not None and cue.kind is not CueKind.TICK and cue.text:
            spoke(self.media_time())          # the watching tick counts its quiet from what was said
        for out in self.outputs:
            try:
                if cue.interrupt and not cue.text:
                    out.cancel()          # "stop all speech"; a danger's barge-in is each output's own
                else:                     # (sound cuts less urgent sound, never another danger)
                    out.emit(cue)
            except Exception:  # noqa: BLE001 - one broken output must not silence the others
                log.exception("output %s failed", getattr(out, "name", out))
        return (time.perf_counter() - self._frame_wall) * 1e3

    def say(self, cue: Cue) -> None:
        """Send a cue that did not come from the policy (system messages) to every output."""
        self._emit(cue)

    ANSWERS = ("repeat", "summary", "describe")     # read the policy's state only: answer() may run on any thread

    def answer(self, what: str) -> Cue:
        """The cue for R, W or D, not said: it changes nothing, so the window asks it on its own
        thread and says it at once while the engine works on a frame."""
        now = self.media_time()
        if what == "repeat":
            return self.policy.repeat_last(now)
        if what == "summary":
            return self.policy.summary(self.profile, now)
        if what == "describe":
            recent = [s for s in list(self.recent_sounds) if self._frame_t - s.start_s < 30]
            return self.policy.describe(now, recent, self.profile)
        raise ValueError(f"answer is for {', '.join(self.ANSWERS)}, got {what!r}")

    def request(self, what: str) -> Cue:
        """On-demand: repeat the last cue, 'what's around me', describe, read text, snooze, stop."""
        now = self.media_time()
        if what in self.ANSWERS:
            cue = self.answer(what)
        elif what == "read_text":
            if self.pipeline.request_text():
                cue = Cue("Reading…", CueKind.SYSTEM, Priority.NEXT, Urgency.SAFE, now)
            else:
                cue = Cue("Reading text is not available: the text reader is not running", CueKind.SYSTEM,
                          Priority.NEXT, Urgency.SAFE, now)
        elif what == "snooze":
            cue = self.policy.snooze(now)
        elif what == "stop":
            cue = self.policy.stop_all(now)
        else:
            raise ValueError(f"request must be one of {', '.join(REQUESTS)}, got {what!r}")
        self._emit(cue)
        return cue

    def close(self) -> None:
        for out in self.outputs:
            try:
                out.close()
            except Exception:  # noqa: BLE001
                log.exception("closing output %s failed", getattr(out, "name", out))
        self.outputs = []
        if self.near_misses is not None:
            self.near_misses.close()          # what was queued is written
