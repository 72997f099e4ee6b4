"""How preference values read to people: the settings dialog, therapist mode and reports show
these words; the profile, the command line and the database keep the identifiers."""
from __future__ import annotations

import enum

from maxsight_app.profile.schema import VISION_CONDITIONS, Hearing, ObstacleWarnings, SpeechOutput, Units, Verbosity

CONDITION_NAMES = {
    "none": "None",
    "cataracts": "Cataracts",
    "glaucoma": "Glaucoma",
    "amd": "Age-related macular degeneration (AMD)",
    "diabetic_retinopathy": "Diabetic retinopathy",
    "retinitis_pigmentosa": "Retinitis pigmentosa",
    "hemianopia_left": "Hemianopia, left side of view lost",
    "hemianopia_right": "Hemianopia, right side of view lost",
    "myopia": "Myopia (short sight)",
    "protanopia": "Protanopia (red colour blindness)",
    "deuteranopia": "Deuteranopia (green colour blindness)",
    "tritanopia": "Tritanopia (blue colour blindness)",
    "photophobia": "Photophobia (light hurts)",
    "low_contrast": "Reduced contrast sensitivity",
    "nystagmus": "Nystagmus (shaking eyes)",
}

CHOICE_WORDS = {
    Verbosity.DANGER_ONLY: "Dangers only", Verbosity.BRIEF: "Brief: warnings and dangers",
    Verbosity.NORMAL: "Normal", Verbosity.DETAILED: "Detailed",
    Units.METRES: "Metres", Units.FEET: "Feet", Units.STEPS: "Steps",
    SpeechOutput.AUTO: "Automatic: my screen reader when one runs", SpeechOutput.OWN_VOICE: "MaxSight's own voice",
    SpeechOutput.SCREEN_READER: "My screen reader", SpeechOutput.BOTH: "Both",
    Hearing.TYPICAL: "Typical", Hearing.HARD_OF_HEARING: "Hard of hearing", Hearing.DEAF: "Deaf",
    ObstacleWarnings.OFF: "Off", ObstacleWarnings.FEWER: "On, fewer false alarms",
    ObstacleWarnings.MORE: "On, more obstacles found",
}


def condition_name(condition: str) -> str:
    """'amd' -> 'Age-related macular degeneration (AMD)'; an unknown name reads as itself."""
    return CONDITION_NAMES.get(condition, condition.replace("_", " ").capitalize())


def choice_words(value) -> str:
    if isinstance(value, enum.Enum):
        return CHOICE_WORDS.get(value, str(value.value).replace("_", " ").capitalize())
    if value in VISION_CONDITIONS:
        return condition_name(value)
    return str(value).replace("_", " ")
