"""digitnet tune end to end on a small MNIST subset: a study runs, resumes after a real
Ctrl-C, shares its storage between worker processes, prunes a bad trial, and turns
bad inputs into one-line errors that never show a storage password."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import optuna
import pytest
import yaml
from click.testing import CliRunner
from ctrl_c import ctrl_c_reaches_child
from optuna.trial import TrialState
from tune_helpers import BASE_YAML, child_env, make_subset, run_tune, tune_command

from digitnet import config as config_module
from digitnet.cli import main
from digitnet.errors import MissingExtraError
from digitnet.tune import storage
from digitnet.tune.space import parse
from digitnet.tune.study import StudySpec, count_towards_target, open_study, run_worker

SPACE_YAML = "l2: {low: 0.01, high: 10, log: true}\nhidden_size: [8, 16]\n"


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    import os

    folder = os.environ.get("DIGITNET_TEST_MNIST")
    if not folder:
        pytest.skip("DIGITNET_TEST_MNIST is not set (folder of the MNIST *-ubyte.gz files)")
    return make_subset(Path(folder), tmp_path_factory.mktemp("tune-subset"))


@pytest.fixture
def files(tmp_path, subset) -> tuple[Path, Path]:
    base = tmp_path / "base.yaml"
    base.write_text(BASE_YAML + f"data_dir: {subset}\n")
    space = tmp_path / "space.yaml"
    space.write_text(SPACE_YAML)
    return base, space


def load_study(output: Path, name: str = "space") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage.default_url(output))


def finished(study: optuna.Study) -> list:
    return [t for t in study.get_trials() if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def test_a_small_study_runs_and_its_best_config_trains_again(files, tmp_path):
    base, space = files
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["tune", "--config", str(base), "--space", str(space), "--trials", "4", "-o", str(out)],
        env={"OPENBLAS_NUM_THREADS": "1"},
    )
    assert result.exit_code == 0, result.output + result.stderr
    table = result.stdout.splitlines()
    assert table[0].split()[:6] == ["trial", "state", "val", "acc", "epochs", "seconds"]
    assert len([line for line in table if re.match(r"\s+\d+\s+(COMPLETE|PRUNED)", line)]) == 4
    for name in ("best.yaml", "history.png", "params.png", "importance.png", "study.db"):
        assert (out / name).is_file(), name
    assert (out / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    study = load_study(out)
    assert len(finished(study)) == 4
    best = study.best_trial
    assert f"best: trial {best.number}, validation accuracy {best.value:.4f}" in result.stdout
    # best.yaml is the full config of the best trial: `digitnet train` gets the same figure
    saved = yaml.safe_load((out / "best.yaml").read_text())
    assert saved == config_module.load(out / "best.yaml", environ={}).to_dict()
    assert saved["l2"] == best.params["l2"]
    assert saved["hidden_size"] == best.params["hidden_size"]
    retrain = CliRunner().invoke(
        main,
        ["train", "--config", str(out / "best.yaml"), "-o", str(tmp_path / "m.npz"), "--quiet"],
        env={"OPENBLAS_NUM_THREADS": "1"},
    )
    assert retrain.exit_code == 0, retrain.output
    assert f"best validation accuracy {best.value:.4f}" in retrain.stdout
    # every trial trained into its own folder, as `digitnet train` would
    assert (out / "trials" / f"{best.number:04d}" / "model.npz").is_file()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_then_rerun_resumes_without_losing_finished_trials(files, tmp_path, jobs):
    base, space = files
    base.write_text(base.read_text().replace("epochs: 3", "epochs: 6"))
    out = tmp_path / "out"
    args = ["--config", str(base), "--space", str(space), "-o", str(out), "--pruner", "none"]
    args += ["--jobs", jobs]
    lines: list[str] = []
    # Far more trials than can finish before the Ctrl-C: on a fast or idle machine 50 tiny
    # trials could all complete while this test is still polling for the second one.
    with subprocess.Popen(
        tune_command(*args, "--trials", "1000"),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=child_env(),
        preexec_fn=ctrl_c_reaches_child,  # even when this run ignores SIGINT (ctrl_c.py)
    ) as proc:
        assert proc.stderr is not None
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while sum("COMPLETE" in line for line in list(lines)) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, "".join(lines)
            time.sleep(0.05)
        time.sleep(0.3)  # land inside the next trial's training
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=180)  # workers get up to 60 s to record their trials; a busy CI more
        reader.join(timeout=10)
    assert proc.returncode == 130, "".join(lines)
    errors = [line for line in lines if line.startswith("Error")]
    assert len(errors) == 1, "".join(lines)
    kept = r"Error: interrupted; (\d+ )?finished trial(\(s\))? are kept in sqlite:"
    assert re.match(kept, errors[0])
    assert "Traceback" not in "".join(lines)

    before = {t.number: t.value for t in finished(load_study(out))}
    assert len(before) >= 2
    assert not [t for t in load_study(out).get_trials() if t.state == TrialState.RUNNING]
    target = len(before) + 2
    again = run_tune(*args, "--trials", str(target))
    assert again.returncode == 0, again.stderr
    after = {t.number: t.value for t in finished(load_study(out))}
    assert len(after) == target
    assert {n: after[n] for n in before} == before  # nothing finished was lost or redone


def test_two_jobs_finish_the_target_with_unique_trial_numbers(files, tmp_path):
    base, space = files
    out = tmp_path / "out"
    result = run_tune(
        "--config", str(base), "--space", str(space), "-o", str(out), "--trials", "6",
        "--jobs", "2", "--seed", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 workers × 1 BLAS thread(s) on" in result.stderr
    assert re.search(r"\[worker 0\] trial \d+", result.stderr)
    assert re.search(r"\[worker 1\] trial \d+", result.stderr)
    study = load_study(out)
    done = finished(study)
    assert len(done) == 6
    numbers = [t.number for t in study.get_trials()]
    assert len(numbers) == len(set(numbers))
    # a trial beyond the target may only be one a concurrent worker started and dropped
    for t in study.get_trials():
        assert t.state != TrialState.FAIL or t.user_attrs.get("unneeded"), t


def test_pruning_stops_a_bad_trial_early(subset, tmp_path):
    base = config_module.apply(
        config_module.Config(),
        {**yaml.safe_load(BASE_YAML), "epochs": 4, "data_dir": str(subset)},
        "test",
    )
    space = parse({"learning_rate": [0.1, 0.0001]}, base, "test")
    spec = StudySpec(
        base=base,
        space=space,
        storage_url=storage.default_url(tmp_path),
        study_name="prune",
        output=tmp_path,
        trials=5,
    )
    study = open_study(spec)
    for _ in range(4):  # the median rule waits for 4 finished trials
        study.enqueue_trial({"learning_rate": 0.1})
    study.enqueue_trial({"learning_rate": 0.0001})  # learns next to nothing in 4 epochs
    run_worker(spec, study=study)
    trials = study.get_trials()
    assert [t.state for t in trials[:4]] == [TrialState.COMPLETE] * 4
    assert [max(t.intermediate_values) for t in trials[:4]] == [4] * 4
    bad = trials[4]
    assert bad.params == {"learning_rate": 0.0001}
    assert bad.state == TrialState.PRUNED
    assert max(bad.intermediate_values) == 2  # judged from epoch 2 on, so stopped there
    assert count_towards_target(trials) == 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_unreachable_storage_is_one_line_and_never_shows_the_password(files, tmp_path):
    base, space = files
    url = f"postgresql://tuner:hunter2-s3cret@127.0.0.1:{free_port()}/studies"
    result = run_tune("--config", str(base), "--space", str(space), "--storage", url)
    line = one_line_error(result)
    assert "hunter2-s3cret" not in result.stderr + result.stdout
    assert "postgresql://tuner:***@127.0.0.1" in line
    assert "cannot open the study storage" in line


def test_a_storage_url_that_is_not_a_database_is_one_line(files):
    base, space = files
    result = run_tune("--config", str(base), "--space", str(space), "--storage", "ftp://u:pw9@h/x")
    line = one_line_error(result)
    assert "is not a database URL" in line
    assert "pw9" not in result.stderr


def test_a_bad_space_file_is_one_line(files):
    base, space = files
    space.write_text("hiden_size: [16, 32]\n")
    line = one_line_error(run_tune("--config", str(base), "--space", str(space)))
    assert "unknown key 'hiden_size' — did you mean 'hidden_size'?" in line


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://me:pa55@db:5432/x", "pa55"),
        ("postgresql+psycopg2://me:p%40ss%2Fw@db/x", "p@ss/w"),
        ("sqlite:////tmp/a.db", None),
    ],
)
def test_mask_hides_the_password_in_every_form(url, secret):
    masked = storage.mask(f"connect {url} failed for password {secret}", url)
    if secret is None:
        assert masked == f"connect {url} failed for password None"
    else:
        assert secret not in masked
        assert "p%40ss%2Fw" not in masked
        assert "***" in masked


def test_without_optuna_the_error_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna -> ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'digitnet\[tune\]'"):
        storage.require_optuna()


def test_a_resumed_study_must_search_the_same_space(files, tmp_path):
    base, space = files
    out = tmp_path / "out"
    first = run_tune("--config", str(base), "--space", str(space), "-o", str(out), "--trials", "1")
    assert first.returncode == 0, first.stderr
    space.write_text("l2: {low: 0.5, high: 10, log: true}\nhidden_size: [8, 16]\n")
    line = one_line_error(
        run_tune("--config", str(base), "--space", str(space), "-o", str(out), "--trials", "2")
    )
    assert "was started with another search space" in line
