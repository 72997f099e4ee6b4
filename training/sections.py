"""Run configs with an extra section: `pretrain:` (self-supervised pretraining, pretrain.py),
`continual:` (adding classes with EWC, ewc.py) and `search:` (the Optuna search space, tune.py).

The rest of such a YAML file is an ordinary training config (config.py) and is read and checked
by it; the extra section is taken off first and read by the module that owns it, with the same
field-level errors ("pretrain.task must be mae or simclr, got 'rotation'"). `--set` overrides may
name a setting inside a section too (`--set pretrain.mask_ratio=0.6`).

Hyperparameter files (`best_hyperparameters.json`, written by `maxsight tune`) hold dotted
settings applied like `--set`, before the command line's own `--set`.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from training.config import ConfigError, TrainConfig, _build, from_dict

SECTIONS = ("pretrain", "continual", "search")


def read_yaml(path: str | Path, overrides: list[str] = (), params: dict | None = None) -> dict:
    """The YAML mapping of a config file with `params` ({dotted key: value}, e.g. from a
    hyperparameters file) and then `dotted.key=value` overrides applied (as config.load)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"the config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, got {type(data).__name__}")
    for key, value in (params or {}).items():
        set_dotted(data, key, value)
    return apply_overrides(data, overrides)


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set needs key=value, got {item!r}")
        set_dotted(data, key, yaml.safe_load(raw))
    return data


def set_dotted(data: dict, key: str, value) -> None:
    node = data
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {p} is not a section")
    node[parts[-1]] = value


def load_with_sections(path: str | Path, overrides: list[str] = (), params: dict | None = None) -> tuple[TrainConfig, dict]:
    """(the training config, {section name: its raw mapping}) of a YAML file."""
    data = read_yaml(path, overrides, params)
    sections = {k: data.pop(k) for k in SECTIONS if k in data}
    for name, value in sections.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a mapping of settings, got {value!r}")
    if len(sections) > 1:
        raise ConfigError(f"a config may hold one of {', '.join(SECTIONS)}; this one holds {' and '.join(sections)}")
    return from_dict(data, str(Path(path).resolve().parent)), sections


def build_section(cls, data: dict, name: str):
    """A section's dataclass from its mapping; unknown names and wrong types are one sentence."""
    return _build(cls, data, name)


def read_hyperparameters(path: str | Path) -> dict:
    """{dotted setting: value} from a best_hyperparameters.json ({"params": {"optim.lr": 0.003, ...}})."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"the hyperparameters file {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    params = data.get("params") if isinstance(data, dict) else None
    if not isinstance(params, dict) or not params:
        raise ConfigError(f"{path} needs a non-empty \"params\" mapping of dotted settings (as maxsight tune writes)")
    return dict(params)
