"""Two `digitnet tune` processes share one study on a real PostgreSQL server.

The server is a throwaway cluster (initdb in a temp dir, 127.0.0.1 on a free port,
password authentication), started from Debian's `postgresql` package; the test is
skipped when its binaries are absent. PostgreSQL refuses to run as root, so as
root the cluster belongs to the `postgres` user the package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from tune_helpers import BASE_YAML, child_env, make_subset, tune_command

# About 75 s here (initdb, server start, two processes of six trials, under load): slow.
pytestmark = pytest.mark.slow

PASSWORD = "tune-s3cret-pw"
USER = "tuner"


def _initdb() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb = _initdb()
    if initdb is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    bin_dir = initdb.parent
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        prefix = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="digitnet-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, pwfile, log = root / "data", root / "pw", root / "log"
    pwfile.write_text(PASSWORD + "\n")
    if owner is not None:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    run = lambda *cmd: subprocess.run(  # noqa: E731
        [*prefix, *cmd], check=True, capture_output=True, text=True, timeout=120
    )
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
            f"--pwfile={pwfile}", "--no-sync")  # fmt: skip
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")  # fmt: skip
        yield f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def trial_numbers(stderr: str) -> set[int]:
    """Numbers of the trials a process reports ("trial 3: COMPLETE …")."""
    return {
        int(line.split()[1].rstrip(":"))
        for line in stderr.splitlines()
        if line.startswith("trial ")
    }


def test_two_processes_share_one_study_on_postgresql(postgres_url, tmp_path):
    folder = os.environ.get("DIGITNET_TEST_MNIST")
    if not folder:
        pytest.skip("DIGITNET_TEST_MNIST is not set (folder of the MNIST *-ubyte.gz files)")
    subset = make_subset(Path(folder), tmp_path / "mnist")
    base = tmp_path / "base.yaml"
    base.write_text(BASE_YAML + f"data_dir: {subset}\n")
    space = tmp_path / "space.yaml"
    space.write_text("l2: {low: 0.01, high: 10, log: true}\n")
    # two "machines": separate processes and output folders, one storage and study
    procs = [
        subprocess.Popen(
            tune_command(
                "--config",
                str(base),
                "--space",
                str(space),
                "--storage",
                postgres_url,
                "--study",
                "shared",
                "--trials",
                "6",
                "-o",
                str(tmp_path / f"machine{i}"),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert PASSWORD not in out + err
        assert f"postgresql://{USER}:***@127.0.0.1" in err
    ran = [trial_numbers(err) for _, err in outputs]
    assert ran[0], "the first process ran trials"
    assert ran[1], "the second process ran trials"
    assert not ran[0] & ran[1], "no trial was run twice"

    storage = optuna.storages.RDBStorage(postgres_url)
    try:
        trials = optuna.load_study(study_name="shared", storage=storage).get_trials()
    finally:
        storage.engine.dispose()  # close its connections before the server stops
    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(done) == 6
    assert {t.number for t in done} <= ran[0] | ran[1]
    assert len({t.number for t in trials}) == len(trials)


def test_a_wrong_password_is_one_line_without_the_password(postgres_url, tmp_path):
    wrong = postgres_url.replace(PASSWORD, "not-the-pw-42")
    base = tmp_path / "base.yaml"
    base.write_text(BASE_YAML)
    space = tmp_path / "space.yaml"
    space.write_text("l2: {low: 0.01, high: 10, log: true}\n")
    result = subprocess.run(
        tune_command("--config", str(base), "--space", str(space), "--storage", wrong),
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "not-the-pw-42" not in result.stderr
    assert "password authentication failed" in lines[0]
