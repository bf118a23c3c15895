"""Running a study: each trial is a normal training run, scored on the validation split.

A trial draws a point of the search space (space.py), lays it over the base
config and trains through ``runner.run``, the code path of ``digitnet train``,
into ``<output>/trials/<number>/model.npz``. After every epoch the trial reports
its validation accuracy to Optuna, whose pruner (median rule by default) may stop
it there; the trial's value is its best validation accuracy. The test split is
never loaded.

Any number of workers (processes here or on other machines) may run
``run_worker`` against one storage: they share the study, Optuna numbers the
trials, and ``--trials N`` is a target for the whole study, not per worker:
finished trials (complete, pruned, or failed by diverging) count, trials lost to
Ctrl-C or a crash do not, and a worker starts no trial once N are finished or
running. If two workers start at the same moment and overshoot, the later trial
stops at once and is recorded as a failed, unneeded trial.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitnet import config as config_module
from digitnet.config import Config
from digitnet.errors import ConfigError, StorageError, TrainingError
from digitnet.tune import storage as storage_module
from digitnet.tune.interrupts import SafePoints, held_at_safe_points
from digitnet.tune.space import SearchSpace

PRUNERS = ("median", "none")
# Median rule (Golovin et al. 2017, "Google Vizier" §3.2.2): stop a trial whose best
# value so far is below the median of earlier trials' values at the same epoch. It
# waits for MEDIAN_STARTUP_TRIALS finished trials, so there is a median to compare with.
MEDIAN_STARTUP_TRIALS = 4
# Steps are epochs 1, 2, …; steps below n_warmup_steps are never judged, so with 2 the
# first epoch (noisy for every run) is not, and a trial can be stopped from epoch 2 on.
MEDIAN_WARMUP_STEPS = 2

# Trial user attributes (stored with each trial, read back by the summary)
ATTR_CONFIG = "config"  # the full training config, a dict
ATTR_TRAIN_SECONDS = "train_seconds"  # time in the training loop (set when a trial completes)
ATTR_ERROR = "error"  # why a trial failed on its own (diverged); unset when interrupted
ATTR_UNNEEDED = "unneeded"  # started past the --trials target by a concurrent worker
# Study user attributes: what the study searches, compared when it is resumed
ATTR_BASE = "base_config"
ATTR_SPACE = "space"


@dataclass(frozen=True)
class StudySpec:
    """Everything a worker needs to join a study (the same for every worker)."""

    base: Config
    space: SearchSpace
    storage_url: str
    study_name: str
    output: Path
    trials: int
    timeout: float | None = None  # seconds after which a worker starts no new trial
    pruner: str = "median"
    seed: int | None = None  # the sampler's seed (worker i uses seed + i)


@dataclass
class TrialRow:
    """One line of the trials table."""

    number: int
    state: str  # COMPLETE, PRUNED, FAIL or RUNNING
    value: float | None  # best validation accuracy (last reported when pruned)
    params: dict[str, Any]
    epochs: int | None
    seconds: float | None  # wall time of the trial
    note: str = ""


@dataclass
class WorkerReport:
    """What one worker did (for its closing line)."""

    finished: list[TrialRow] = field(default_factory=list)


class _UnneededError(Exception):
    """This trial was started after the study's --trials target was reached."""


def trial_dir(output: Path, number: int) -> Path:
    return output / "trials" / f"{number:04d}"


def make_pruner(name: str) -> Any:
    optuna = storage_module.require_optuna()
    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=MEDIAN_WARMUP_STEPS
        )
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"unknown pruner '{name}' — use one of {', '.join(PRUNERS)}")


def open_study(spec: StudySpec, worker: int = 0, *, storage: Any = None) -> Any:
    """Create the study, or load it when it exists; check it searches what ``spec`` says."""
    optuna = storage_module.require_optuna()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # we print our own lines
    if storage is None:
        storage = storage_module.open_storage(spec.storage_url)
    seed = None if spec.seed is None else spec.seed + worker
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=spec.study_name,
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=make_pruner(spec.pruner),
            load_if_exists=True,
        )
    except Exception as exc:  # storage trouble surfaces here on a later connection
        url = spec.storage_url
        reason = storage_module.mask(str(exc).splitlines()[0] if str(exc) else repr(exc), url)
        raise StorageError(
            f"cannot open study '{spec.study_name}' in {storage_module.mask(url, url)}: {reason}"
            " — check the storage"
        ) from None
    _check_same_search(study, spec)
    return study


def _check_same_search(study: Any, spec: StudySpec) -> None:
    """A resumed study must search the same space from the same base config."""
    recorded_base = study.user_attrs.get(ATTR_BASE)
    recorded_space = study.user_attrs.get(ATTR_SPACE)
    base, space = _comparable_base(spec.base), spec.space.to_dict()
    if recorded_base is None:
        study.set_user_attr(ATTR_BASE, base)
        study.set_user_attr(ATTR_SPACE, space)
        return
    if recorded_base != base or recorded_space != space:
        what = "search space" if recorded_space != space else "base config"
        raise ConfigError(
            f"study '{spec.study_name}' was started with another {what} — run with the same"
            " --config and --space, or start a new study with --study NAME or --output DIR"
        )


def _comparable_base(base: Config) -> dict[str, Any]:
    """The base config without where its data is (workers on other machines differ there)."""
    values = base.to_dict()
    values.pop("data_dir")
    return values


def count_towards_target(trials: list[Any], below: int | None = None) -> int:
    """Trials finished or running (numbered below ``below``, when given).

    A trial failed by a Ctrl-C or a crash carries no ``error`` attribute: it does not
    count, so a resumed study runs it again (with a new number).
    """
    from optuna.trial import TrialState

    counted = 0
    for t in trials:
        if below is not None and t.number >= below:
            continue
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING) or (
            t.state == TrialState.FAIL and ATTR_ERROR in t.user_attrs
        ):
            counted += 1
    return counted


def run_worker(
    spec: StudySpec,
    worker: int = 0,
    on_trial: Callable[[TrialRow], None] | None = None,
    on_epoch: Callable[[int, Any], None] | None = None,
    *,
    study: Any = None,
    storage: Any = None,
) -> WorkerReport:
    """Run trials until the study has ``spec.trials`` finished or running, or the timeout.

    Pass ``study`` (from ``open_study``) and the ``storage`` it was opened on, or neither.

    ``on_trial`` gets each finished trial's row, ``on_epoch`` (trial number, record)
    each epoch. A Ctrl-C propagates as ``KeyboardInterrupt``; Optuna has then marked
    the running trial FAIL (it does not count towards the target).
    """
    storage_module.require_optuna()  # the one-line error when the extra is missing
    if study is None:
        storage = storage_module.open_storage(spec.storage_url)
        study = open_study(spec, worker, storage=storage)
    report = WorkerReport()
    with held_at_safe_points() as interrupts:
        _run_trials(spec, study, storage, report, interrupts, on_trial, on_epoch)
    return report


def _run_trials(
    spec: StudySpec,
    study: Any,
    storage: Any,
    report: WorkerReport,
    interrupts: SafePoints,
    on_trial: Callable[[TrialRow], None] | None,
    on_epoch: Callable[[int, Any], None] | None,
) -> None:
    optuna = storage_module.require_optuna()
    from optuna.trial import TrialState

    started = time.monotonic()
    while True:
        interrupts.check()  # between trials: none is running
        if spec.timeout is not None and time.monotonic() - started >= spec.timeout:
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # trials of crashed workers
        if count_towards_target(study.get_trials(deepcopy=False)) >= spec.trials:
            break
        numbers: list[int] = []  # the number of the trial this pass starts

        def objective(trial: Any, numbers: list[int] = numbers) -> float:
            numbers.append(trial.number)
            return _objective(trial, spec, on_epoch, interrupts)

        try:
            study.optimize(objective, n_trials=1, catch=(TrainingError,), gc_after_trial=False)
        except _UnneededError:
            break
        except KeyboardInterrupt:
            # Optuna marks the trial FAIL when the interrupt lands in the objective, and
            # SafePoints keeps a Ctrl-C out of Optuna's own bookkeeping; should one still
            # land there (a second Ctrl-C), settle the trial here. An interrupt inside a
            # database call leaves its session mid-transaction: drop it, so the next call
            # starts a fresh one.
            forget_session(storage)
            if numbers:
                with contextlib.suppress(Exception):
                    study.tell(numbers[-1], state=TrialState.FAIL, skip_if_finished=True)
            raise
        row = trial_row(study.get_trials(deepcopy=False)[numbers[-1]]) if numbers else None
        if row is not None:
            report.finished.append(row)
            if on_trial is not None:
                on_trial(row)
            if row.state == TrialState.FAIL.name and not row.note:
                break  # unexpected: Optuna recorded a failure we did not raise


def forget_session(storage: Any) -> None:
    """Drop the storage's database session of this thread (after an interrupt)."""
    if storage is not None and hasattr(storage, "remove_session"):
        with contextlib.suppress(Exception):
            storage.remove_session()


def _objective(
    trial: Any,
    spec: StudySpec,
    on_epoch: Callable[[int, Any], None] | None,
    interrupts: SafePoints | None = None,
) -> float:
    """Train one point of the space; its value is the best validation accuracy.

    ``interrupts``: a Ctrl-C raises while the trial trains, but waits out the trial's
    database calls (tune/interrupts.py)."""
    interrupts = SafePoints() if interrupts is None else interrupts
    import optuna

    from digitnet.training import runner

    if count_towards_target(study_trials(trial), below=trial.number) >= spec.trials:
        trial.set_user_attr(ATTR_UNNEEDED, True)
        raise _UnneededError
    values = spec.space.suggest(trial)
    config = config_module.apply(spec.base, values, f"trial {trial.number}")
    trial.set_user_attr(ATTR_CONFIG, config.to_dict())

    def after_epoch(record: Any, improved: bool) -> None:
        with interrupts.bookkeeping():
            # one storage write per epoch: the epochs a trial ran are the steps it reported
            trial.report(record.validation_accuracy, record.epoch)
            if on_epoch is not None:
                on_epoch(trial.number, record)
            prune = trial.should_prune()
        if prune:
            raise optuna.TrialPruned(f"stopped after epoch {record.epoch}")

    output = trial_dir(spec.output, trial.number) / "model.npz"
    try:
        with interrupts.training_phase():
            # no learning-curve PNG per trial (the history JSON beside it has the figures)
            result = runner.run(
                config, output, progress=False, on_epoch=after_epoch, learning_curve=False
            )
    except TrainingError as exc:
        trial.set_user_attr(ATTR_ERROR, str(exc))
        raise
    except KeyboardInterrupt:
        from digitnet.atomic import remove_own_temps

        remove_own_temps(output.parent)
        raise
    assert result.best is not None  # epochs >= 1
    trial.set_user_attr(ATTR_TRAIN_SECONDS, result.train_seconds)
    return float(result.best.validation_accuracy)


def study_trials(trial: Any) -> list[Any]:
    """Every trial of the study ``trial`` belongs to, as stored now."""
    return list(trial.study.get_trials(deepcopy=False))


def trial_row(t: Any) -> TrialRow:
    """A stored trial as a table row."""
    seconds = None
    if t.datetime_start is not None and t.datetime_complete is not None:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
    value = t.value
    if value is None and t.intermediate_values:
        value = max(t.intermediate_values.values())
    note = ""
    if t.user_attrs.get(ATTR_UNNEEDED):
        note = "not needed: the target was reached"
    elif ATTR_ERROR in t.user_attrs:
        note = str(t.user_attrs[ATTR_ERROR])
    elif t.state.name == "FAIL":
        note = "interrupted"
    elif t.state.name == "PRUNED":
        note = "pruned"
    return TrialRow(
        number=t.number,
        state=t.state.name,
        value=value,
        params=dict(t.params),
        epochs=max(t.intermediate_values, default=None),
        seconds=seconds,
        note=note,
    )


def best_trial(study: Any) -> Any | None:
    """The complete trial with the highest validation accuracy, or None."""
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return max(complete, key=lambda t: t.value) if complete else None


def best_config(study: Any) -> Config | None:
    """The full config the best trial trained with."""
    best = best_trial(study)
    if best is None:
        return None
    return config_module.from_dict(best.user_attrs[ATTR_CONFIG], f"trial {best.number}")
