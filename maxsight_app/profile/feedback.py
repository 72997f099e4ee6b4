"""Learning from feedback: what the user says about cues adjusts per-class weights (0..2) and
persists; the cue policy reads them (0 mutes a class below danger, < 0.5 makes it one level
stricter, > 1.5 one level looser).

    useful            the class of the cue gets +0.1
    not_useful LABEL  that class gets -0.3
    too_much          the last cue's class gets -0.15 and the cooldown grows by 25% (up to 60 s)
Every event is also kept in the feedback table, so the therapist can see what was said; the event
and what it changed are written together.
"""
from __future__ import annotations

from maxsight_app.profile.schema import CLASS_WEIGHT_RANGE, PREFERENCES
from maxsight_app.profile.store import ProfileStore

STEPS = {"useful": 0.1, "not_useful": -0.3, "too_much": -0.15}


def apply_feedback(store: ProfileStore, user_id: int, kind: str, label: str = "") -> dict:
    if kind not in STEPS:
        raise ValueError(f"feedback: must be one of {', '.join(STEPS)}; got {kind!r}")
    changes: dict = {}
    weight = None
    if label:
        old = store.class_weights(user_id).get(label, 1.0)
        weight = min(CLASS_WEIGHT_RANGE[1], max(CLASS_WEIGHT_RANGE[0], old + STEPS[kind]))
        changes[label] = weight
    prefs = {}
    if kind == "too_much":
        prefs["cooldown_s"] = min(PREFERENCES["cooldown_s"].high, store.profile(user_id).cooldown_s * 1.25)
        changes.update(prefs)
    store.record_feedback(user_id, kind, label, weight, prefs)
    return changes
