"""Small files shipped with MaxSight (label maps, earcons, model manifest). Weights are never here."""
from importlib.resources import files


def path(*parts: str):
    """A Traversable for a shipped asset, e.g. path('labels', 'coco80.json')."""
    p = files(__name__)
    for part in parts:
        p = p / part
    return p
