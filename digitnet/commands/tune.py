"""``digitnet tune``: search hyperparameters with Optuna (library: digitnet/tune/).

Parses, opens the study, runs the trials here (``--jobs 1``) or in J worker
processes (digitnet/tune/worker.py), then prints the trials table and writes the
best config and the figures. Optuna and the tune package are imported inside
the command, so ``digitnet predict`` does not pay for them.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from digitnet.commands.options import data_dir_option

if TYPE_CHECKING:
    import subprocess

DEFAULT_TRIALS = 20
WORKER_STOP_WAIT_S = 60  # after Ctrl-C, how long workers get to record their trials


class _Interrupted(click.ClickException):
    """Ctrl-C: one line, exit status 130 (128 + SIGINT)."""

    exit_code = 130


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def blas_threads(jobs: int, cores: int) -> int:
    """Threads per worker so that jobs × threads ≤ cores (at least one)."""
    return max(1, cores // jobs)


def worker_env(threads: int) -> dict[str, str]:
    """The environment of a worker: BLAS pools sized before numpy is imported there."""
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


@click.command()
@click.option(
    "--config",
    "config_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Base YAML config; every trial starts from it (e.g. configs/ng-ex4.yaml).",
)
@click.option(
    "--space",
    "space_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML search space: per config key a range {low, high, log, step} or a list of"
    " choices (e.g. configs/spaces/lambda.yaml).",
)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=DEFAULT_TRIALS,
    show_default=True,
    help="Finished trials the study should have (all workers together; a resumed study"
    " counts the ones it has).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds after which no new trial starts (running ones finish).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes on this machine, each with cores/J BLAS threads.",
)
@click.option(
    "--storage",
    metavar="URL",
    help="Study storage: sqlite:///FILE or postgresql://USER@HOST:PORT/DB (workers on"
    " several machines share one) [default: sqlite in --output]. Prefer $PGPASSWORD or"
    " ~/.pgpass to a password in the URL.",
)
@click.option("--study", "study_name", help="Study name [default: the space file's name].")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the study file, trial checkpoints, best.yaml and figures"
    " [default: tuning/STUDY].",
)
@data_dir_option
@click.option(
    "--pruner",
    type=click.Choice(["median", "none"]),
    default="median",
    show_default=True,
    help="Stop trials whose validation accuracy falls below the median of earlier trials"
    " at the same epoch, or never.",
)
@click.option("--seed", type=click.IntRange(min=0), help="Seed of the sampler (worker i: +i).")
def tune(
    config_file: Path,
    space_file: Path,
    trials: int,
    timeout: float | None,
    jobs: int,
    storage: str | None,
    study_name: str | None,
    output: Path | None,
    data_dir: Path | None,
    pruner: str,
    seed: int | None,
) -> None:
    """Search hyperparameters: each trial trains a network as `digitnet train` does,
    scored by validation accuracy (the test set is never used).

    Run the same command again to resume a study; run it on several machines with
    one --storage postgresql://… to share one study.
    """
    from digitnet import config as config_module
    from digitnet.data import download
    from digitnet.errors import ConfigError
    from digitnet.tune import space as space_module
    from digitnet.tune import storage as storage_module
    from digitnet.tune.study import StudySpec, open_study

    storage_module.require_optuna()
    overrides = {"data_dir": str(data_dir)} if data_dir is not None else None
    base = config_module.load(config_file, overrides)
    if base.validation_size == 0:
        raise ConfigError(
            f"{config_file}: validation_size is 0, so trials have nothing to be scored on"
            " — hold some training images out (the test set is never used)"
        )
    space = space_module.load(space_file, base)
    name = study_name or space_file.stem
    folder = output if output is not None else Path("tuning") / name
    url = storage or storage_module.default_url(folder)
    spec = StudySpec(
        base=base,
        space=space,
        storage_url=url,
        study_name=name,
        output=folder.resolve(),
        trials=trials,
        timeout=timeout,
        pruner=pruner,
        seed=seed,
    )
    storage = storage_module.open_storage(url)
    study = open_study(spec, storage=storage)
    download.ensure_dataset(base.dataset, Path(base.data_dir), progress=True)
    cores = usable_cores()
    threads = blas_threads(jobs, cores)
    # one worker runs here, with the BLAS threads this process has (OPENBLAS_NUM_THREADS…)
    workers = "1 worker" if jobs == 1 else f"{jobs} workers × {threads} BLAS thread(s)"
    click.echo(
        f"study '{name}' in {storage_module.mask(url, url)}: {trials} trials, {workers}"
        f" on {cores} core(s); searching " + "; ".join(space.describe()),
        err=True,
    )
    if jobs > cores:
        click.echo(f"Warning: {jobs} workers on {cores} cores will share them", err=True)
    try:
        if jobs == 1:
            _run_here(spec, study, storage)
        else:
            _run_workers(spec, jobs, threads)
    except KeyboardInterrupt:
        raise _interrupted(study, spec, storage) from None
    _summarise(study, spec)


def _run_here(spec: Any, study: Any, storage: Any) -> None:
    from digitnet.tune import results
    from digitnet.tune.study import run_worker

    run_worker(
        spec,
        0,
        on_trial=lambda row: click.echo(results.trial_line(row), err=True),
        study=study,
        storage=storage,
    )


def _run_workers(spec: Any, jobs: int, threads: int) -> None:
    """J worker processes, each in its own session so a terminal's Ctrl-C reaches only
    this process, which passes one SIGINT on to each and waits for them to finish."""
    import subprocess  # here, not at the top: every command's start would pay for it

    from digitnet.errors import DigitnetError
    from digitnet.tune.worker import spec_to_json

    procs = []
    for worker in range(jobs):
        proc = subprocess.Popen(
            [sys.executable, "-m", "digitnet.tune.worker"],
            stdin=subprocess.PIPE,
            env=worker_env(threads),
            start_new_session=True,
            text=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(spec_to_json(spec, worker))
        proc.stdin.close()
        procs.append(proc)
    try:
        codes = [proc.wait() for proc in procs]
    except KeyboardInterrupt:
        _stop_workers(procs)
        raise
    failed = [i for i, code in enumerate(codes) if code != 0]
    if failed:
        raise DigitnetError(
            f"worker(s) {', '.join(map(str, failed))} stopped with an error (see above)"
            " — fix it and run the same command again to continue the study"
        )


def _stop_workers(procs: list[subprocess.Popen[str]]) -> None:
    import subprocess

    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + WORKER_STOP_WAIT_S
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _interrupted(study: Any, spec: Any, storage: Any) -> _Interrupted:
    from digitnet.tune import storage as storage_module
    from digitnet.tune.study import count_towards_target, forget_session

    url = storage_module.mask(spec.storage_url, spec.storage_url)
    forget_session(storage)
    try:
        trials = [t for t in study.get_trials(deepcopy=False) if t.state.name != "RUNNING"]
        kept = f"{count_towards_target(trials)} finished trial(s) are"
    except Exception:  # a second Ctrl-C, or the storage gone: say it without the count
        kept = "finished trials are"
    return _Interrupted(
        f"interrupted; {kept} kept in {url} — run the same command again to continue the study"
    )


def _summarise(study: Any, spec: Any) -> None:
    """Print the trials table; write best.yaml and the figures into the output folder."""
    from digitnet.tune import plots, results
    from digitnet.tune.study import best_config, best_trial, trial_row

    rows = [trial_row(t) for t in study.get_trials(deepcopy=False)]
    click.echo(results.table(rows))
    best = best_trial(study)
    config = best_config(study)
    if best is None or config is None:
        click.echo("no trial completed, so there is no best config yet", err=True)
        return
    row = trial_row(best)
    best_path = spec.output / results.BEST_CONFIG_FILE
    results.write_best_config(best_path, config, row, spec.study_name, spec.space.describe())
    importance = results.importances(study)
    figures = plots.write_all(rows, spec.space, importance, spec.output, spec.study_name)
    click.echo(
        f"best: trial {row.number}, validation accuracy {row.value:.4f} ("
        + ", ".join(f"{k}={results.format_value(v)}" for k, v in row.params.items())
        + f"); config {best_path}"
    )
    click.echo("figures: " + ", ".join(str(p) for p in figures), err=True)
