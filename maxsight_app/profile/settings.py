"""Profile -> the settings objects the cue policy and outputs take (so neither imports the store)."""
from __future__ import annotations

from maxsight_app.cues.types import CuePreferences, Units, Verbosity
from maxsight_app.outputs.factory import OutputSettings
from maxsight_app.outputs.speech import Voice
from maxsight_app.profile.store import ProfileStore


def cue_preferences(store: ProfileStore, user_id: int) -> CuePreferences:
    p = store.preferences(user_id)
    return CuePreferences(verbosity=Verbosity(p["verbosity"]), units=Units(p["units"]), cooldown_s=p["cooldown_s"],
                          max_unsolicited=p["max_unsolicited"], hedge_below=p["hedge_below"],
                          class_weights=store.class_weights(user_id), condition=p["vision_condition"],
                          sound_alerts=tuple(x for x in p["sound_alerts"].split(",") if x),
                          severity=p["vision_severity"])


def output_settings(store: ProfileStore, user_id: int) -> OutputSettings:
    p = store.preferences(user_id)
    return OutputSettings(speech=p["speech"], earcons=p["earcons"],
                          voice=Voice(rate_wpm=p["speech_rate"], volume=p["volume"], voice_id=p["voice"]),
                          tone_volume=p["tone_volume"], haptic=p["haptic"], haptic_port=p["haptic_port"],
                          haptic_strength=p["haptic_strength"], screen=p["screen_alerts"])
