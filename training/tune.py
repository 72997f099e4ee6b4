"""Hyperparameter search with Optuna (the seed's "AutoML"): `maxsight tune CONFIG --trials N`.

The YAML is an ordinary training config plus a `search:` section:

    search:
      metric: mAP50              # mAP50 or mAP on the val split (maximised), or loss: the
                                 # training loss of the last logged steps (minimised)
      sampler: tpe               # tpe or random
      pruner: median             # median (stop a trial whose report is worse than the median of
                                 # earlier trials at the same report) or none
      startup_trials: 2          # trials that run to the end before pruning starts
      seed: 0
      space:                     # dotted settings of the config
        optim.lr: {low: 0.0003, high: 0.01, log: true}
        optim.weight_decay: {low: 0.0, high: 0.1}
        optim.batch: {low: 4, high: 8, step: 2}        # whole numbers where the setting is one
        data.augment.mosaic: {choices: [0.0, 0.2, 0.5]}

Each trial trains the config with the sampled settings in RUN/trials/trial_NNN/ (its config.json,
metrics.csv, checkpoint and trial.json with the settings, every report and the score, kept
whatever the outcome). Reports: the val metric after every evaluation (eval_every, 1 epoch when
the config sets none) or the training loss at every log row; a trial the pruner stops is kept
as pruned, one whose loss diverged is pruned too, one whose sampled settings the config refuses
fails with that sentence in its trial.json.

The study lives in RUN/study.db (Optuna's SQLite storage). `--trials N` means N finished
(completed or pruned) trials in the study: a search that was killed is started again with the
same command and goes on from there; the trial that was running when it died is marked failed
and its settings are tried again first. RUN/trials.csv lists every trial;
RUN/best_hyperparameters.json holds the best settings so far, which
`maxsight train CONFIG --hyperparameters RUN/best_hyperparameters.json` applies.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from training.config import ConfigError

log = logging.getLogger(__name__)

METRICS = {"mAP50": "maximize", "mAP": "maximize", "loss": "minimize"}
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "none")
SPEC_KEYS = {"low", "high", "log", "step", "choices"}


@dataclass
class SearchConfig:
    metric: str = "mAP50"
    sampler: str = "tpe"
    pruner: str = "median"
    startup_trials: int = 2
    warmup_reports: int = 0          # reports of a trial before the pruner may stop it
    seed: int = 0


@dataclass(frozen=True)
class Param:
    key: str                          # dotted setting
    kind: str                         # float, int or choice
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple = ()

    def suggest(self, trial):
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)


@dataclass
class Search:
    config: SearchConfig
    space: list[Param] = field(default_factory=list)


def _lookup(tree: dict, key: str):
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return KeyError
        node = node[part]
    return node


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse(section: dict, base_cfg) -> Search:
    """The search section, checked: every problem is one sentence naming search.<field>."""
    from training.sections import build_section
    section = dict(section)
    space = section.pop("space", None)
    sc = build_section(SearchConfig, section, "search")
    if sc.metric not in METRICS:
        raise ConfigError(f"search.metric must be one of {', '.join(METRICS)}, got {sc.metric!r}")
    if sc.sampler not in SAMPLERS:
        raise ConfigError(f"search.sampler must be one of {', '.join(SAMPLERS)}, got {sc.sampler!r}")
    if sc.pruner not in PRUNERS:
        raise ConfigError(f"search.pruner must be one of {', '.join(PRUNERS)}, got {sc.pruner!r}")
    if sc.startup_trials < 0 or sc.warmup_reports < 0:
        raise ConfigError("search.startup_trials and search.warmup_reports must be 0 or more")
    if not isinstance(space, dict) or not space:
        raise ConfigError("search.space must map at least one dotted setting (e.g. optim.lr) to a range or a list of choices")
    tree = base_cfg.to_dict()
    params = []
    for key, spec in space.items():
        where = f"search.space.{key}"
        current = _lookup(tree, str(key))
        if current is KeyError or isinstance(current, dict):
            raise ConfigError(f"{where}: {key} is not a setting of the config (e.g. optim.lr, optim.weight_decay, data.augment.mosaic)")
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} must be {{low: .., high: ..}} or {{choices: [..]}}, got {spec!r}")
        unknown = sorted(set(spec) - SPEC_KEYS)
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]} is not a range setting; known: {', '.join(sorted(SPEC_KEYS))}")
        if "choices" in spec:
            if set(spec) != {"choices"}:
                raise ConfigError(f"{where} gives choices and a range; give one of them")
            ch = spec["choices"]
            if not isinstance(ch, list) or not ch:
                raise ConfigError(f"{where}.choices must be a non-empty list, got {ch!r}")
            if len(set(map(json.dumps, ch))) != len(ch):
                raise ConfigError(f"{where}.choices lists a value twice: {ch}")
            params.append(Param(str(key), "choice", choices=tuple(ch)))
            continue
        if "low" not in spec or "high" not in spec:
            raise ConfigError(f"{where} needs low and high (or choices)")
        lo, hi, step, lg = spec["low"], spec["high"], spec.get("step"), spec.get("log", False)
        if not (_number(lo) and _number(hi)):
            raise ConfigError(f"{where}: low and high must be numbers, got {lo!r} and {hi!r}")
        if not math.isfinite(lo) or not math.isfinite(hi) or not lo < hi:
            raise ConfigError(f"{where}: the range is empty (low {lo}, high {hi}); low must be below high")
        if not isinstance(lg, bool):
            raise ConfigError(f"{where}.log must be true or false, got {lg!r}")
        if lg and lo <= 0:
            raise ConfigError(f"{where}: a log range needs low > 0, got {lo}")
        if step is not None and (not _number(step) or step <= 0 or step > hi - lo):
            raise ConfigError(f"{where}.step must be a number above 0 and at most high - low, got {step!r}")
        if lg and step is not None:
            raise ConfigError(f"{where}: give step or log, not both")
        is_int = isinstance(current, int) and not isinstance(current, bool)
        if is_int and not all(isinstance(v, int) for v in (lo, hi, step if step is not None else 1)):
            raise ConfigError(f"{where}: {key} is a whole number, so low, high and step must be whole numbers")
        params.append(Param(str(key), "int" if is_int else "float", lo, hi, lg, step))
    return Search(sc, params)


# ---- one trial ----------------------------------------------------------------------------------
def _trial_trainer_class():
    import optuna

    from training.loop import Trainer

    class TrialTrainer(Trainer):
        """A Trainer that reports to its Optuna trial and stops when the pruner says so."""

        def setup_trial(self, trial, metric: str):
            self.trial, self.metric, self.reports, self.last_loss = trial, metric, [], None

        def _report(self, value: float):
            step = len(self.reports)
            self.reports.append(value)
            self.trial.report(value, step)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"stopped by the pruner after report {step} ({self.metric} {value:.4g})")

        def _validate(self):
            ev = super()._validate()
            if self.metric != "loss":
                self._report(float(ev["coco"][self.metric]))
            return ev

        def _log_row(self, row):
            super()._log_row(row)
            if self.metric == "loss":
                self.last_loss = float(row["loss_total"])
                self._report(self.last_loss)

    return TrialTrainer


def trial_config(config_path, overrides: list[str], params: dict, out: Path, metric: str, number: int):
    from training.sections import load_with_sections
    cfg, _ = load_with_sections(config_path, overrides, params)
    cfg.out = str(out)
    cfg.name = f"{cfg.name}_trial{number:03d}"
    if metric == "loss":
        cfg.evaluate, cfg.eval_every = False, 0
    else:
        cfg.evaluate, cfg.eval_every = True, cfg.eval_every or 1
    return cfg


# ---- the study ----------------------------------------------------------------------------------
class TuneError(RuntimeError):
    pass


def _lock(path: Path):
    import fcntl
    f = path.open("a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise TuneError(f"another maxsight tune is working in {path.parent} (it holds {path.name}); wait for it to end or stop it") from None
    return f


def _finished(study) -> int:
    from optuna.trial import TrialState
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state in (TrialState.COMPLETE, TrialState.PRUNED))


def _recover(study, out: Path) -> list[int]:
    """Trials left RUNNING by a killed search: marked failed, their settings queued again."""
    from optuna.trial import TrialState
    stale = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
    for t in stale:
        study.tell(t.number, state=TrialState.FAIL)
        _write_trial(out, t.number, t.params, "failed", None, [], "the search was stopped while this trial ran; its settings are tried again")
        if t.params:
            study.enqueue_trial(dict(t.params), skip_if_exists=False)
    return [t.number for t in stale]


def _write_trial(out: Path, number: int, params: dict, state: str, value, reports: list, note: str = "", seconds=None) -> None:
    d = out / "trials" / f"trial_{number:03d}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "trial.json").write_text(json.dumps({"number": number, "state": state, "value": value, "params": params,
                                              "reports": reports, "note": note, "seconds": seconds}, indent=1))


def _summaries(study, out: Path, search: Search, config_path) -> dict | None:
    """trials.csv (every trial) and best_hyperparameters.json (the best finished trial so far)."""
    from optuna.trial import TrialState
    trials = study.get_trials(deepcopy=False)
    keys = [p.key for p in search.space]
    with (out / "trials.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", "state", search.config.metric, *keys])
        for t in trials:
            w.writerow([t.number, t.state.name.lower(), "" if t.value is None else t.value, *[t.params.get(k, "") for k in keys]])
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not done:
        return None
    sign = 1 if METRICS[search.config.metric] == "maximize" else -1
    best = max(done, key=lambda t: sign * t.value)
    data = {"metric": search.config.metric, "direction": METRICS[search.config.metric], "value": best.value, "trial": best.number,
            "params": dict(best.params), "config": str(Path(config_path).resolve()), "study": str(out / "study.db"),
            "finished_trials": _finished(study), "run": str(out / "trials" / f"trial_{best.number:03d}")}
    (out / "best_hyperparameters.json").write_text(json.dumps(data, indent=1))
    return data


@dataclass
class TuneResult:
    out_dir: Path
    finished: int
    new_trials: list[dict]
    recovered: list[int]
    best: dict | None


def tune(config_path, trials: int, overrides: list[str] = (), out: str | None = None, progress: bool = True,
         echo=print) -> TuneResult:
    import optuna
    from optuna.trial import TrialState

    from training.sections import load_with_sections
    if trials < 1:
        raise TuneError(f"--trials must be at least 1, got {trials}")
    base, sections = load_with_sections(config_path, list(overrides))
    if "search" not in sections:
        raise ConfigError(f"{config_path} has no search: section; add one with a space of settings to try (see training/tune.py)")
    search = parse(sections["search"], base)
    sc = search.config
    if out:
        base.out = out
    out_dir = base.out_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock(out_dir / "tune.lock")
    try:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=sc.seed, n_startup_trials=max(sc.startup_trials, 1)) if sc.sampler == "tpe" \
            else optuna.samplers.RandomSampler(seed=sc.seed)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=sc.startup_trials, n_warmup_steps=sc.warmup_reports) \
            if sc.pruner == "median" else optuna.pruners.NopPruner()
        study = optuna.create_study(study_name=base.name, storage=f"sqlite:///{(out_dir / 'study.db').resolve()}",
                                    direction=METRICS[sc.metric], sampler=sampler, pruner=pruner, load_if_exists=True)
        stored = study.user_attrs.get("space")
        space_repr = [dataclasses.asdict(p) for p in search.space]
        if stored is not None and json.loads(json.dumps(space_repr)) != stored:
            raise TuneError(f"{out_dir / 'study.db'} holds a search over another space; give --out a new folder or remove the study")
        study.set_user_attr("space", json.loads(json.dumps(space_repr)))
        study.set_user_attr("metric", sc.metric)
        recovered = _recover(study, out_dir)
        if recovered:
            echo(f"  trial(s) {', '.join(map(str, recovered))} were running when the last search stopped: marked failed, their settings queued again")
        Trainer = _trial_trainer_class()
        new, failures = [], 0
        while _finished(study) < trials:
            trial = study.ask()
            params = {p.key: p.suggest(trial) for p in search.space}
            tdir = out_dir / "trials" / f"trial_{trial.number:03d}"
            _write_trial(out_dir, trial.number, params, "running", None, [])
            t0 = time.perf_counter()
            tr = None
            try:
                cfg = trial_config(config_path, list(overrides), params, tdir, sc.metric, trial.number)
                tr = Trainer(cfg, progress=progress)
                tr.setup_trial(trial, sc.metric)
                result = tr.run()
                value = tr.last_loss if sc.metric == "loss" else float(result.evaluation["coco"][sc.metric])
                if value is None or not math.isfinite(value):
                    raise FloatingPointError(f"the trial ended without a finite {sc.metric}")
                study.tell(trial, value)
                state, note = "complete", ""
            except optuna.TrialPruned as exc:
                study.tell(trial, state=TrialState.PRUNED)
                value, state, note = None, "pruned", str(exc)
            except FloatingPointError as exc:
                study.tell(trial, state=TrialState.PRUNED)
                value, state, note = None, "pruned", f"diverged: {exc}"
            except ConfigError as exc:
                study.tell(trial, state=TrialState.FAIL)
                value, state, note = None, "failed", str(exc)
                failures += 1
            reports = list(tr.reports) if tr is not None and hasattr(tr, "reports") else []
            seconds = round(time.perf_counter() - t0, 1)
            _write_trial(out_dir, trial.number, params, state, value, reports, note, seconds)
            row = {"trial": trial.number, "state": state, "value": value, "params": params, "note": note, "seconds": seconds}
            new.append(row)
            shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
            echo(f"  trial {trial.number}: {state}{'' if value is None else f', {sc.metric} {value:.4g}'} ({shown}; {seconds:.0f} s)"
                 f"{'' if not note else ' - ' + note}")
            best = _summaries(study, out_dir, search, config_path)
            if failures > trials:
                raise TuneError(f"{failures} trials failed because the config refused their settings; the last: {note}")
        best = _summaries(study, out_dir, search, config_path)
        return TuneResult(out_dir, _finished(study), new, recovered, best)
    finally:
        lock.close()
