"""Every CLI command, fed bad inputs: a non-zero exit, one `Error:` line on
stderr, never a traceback.

The walk is generated from ``cli.main``'s command list, so commands added later are
covered without editing this file: for each one it tries an unknown option, a
missing required argument, a nonsense value for every typed option, and a
missing file, a directory, a garbage file and a path below a regular file for
every path parameter. No test here reaches the internet: the dataset mirrors go
through a proxy address where nothing listens.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from http_server import LocalMirror

from digitnet.cli import main
from digitnet.data import download as downloader


def walk(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # commands load on demand (cli.COMMAND_MODULES)
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))


COMMANDS = list(walk(main))
NONSENSE = "not-a-valid-value"


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Run in an empty folder, with an empty data dir and no way to the internet."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    proxy = f"http://127.0.0.1:{refused_port()}"
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, proxy)
    for var in ("no_proxy", "DIGITNET_MIRROR", "DIGITNET_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # only LocalMirror is reachable
    monkeypatch.setenv("DIGITNET_DATA_DIR", str(tmp_path / "empty-data"))
    monkeypatch.setattr(downloader, "RETRIES", 0)
    monkeypatch.setattr(downloader, "RESUME_ATTEMPTS", 0)
    monkeypatch.setattr(downloader, "BACKOFF_SECONDS", 0.0)
    monkeypatch.setattr(downloader, "TIMEOUT", (2, 2))
    return CliRunner()


def assert_one_error_line(result: Result, args: list[str]) -> None:
    where = f"digitnet {' '.join(args)}"
    assert result.exit_code != 0, where
    assert "Traceback" not in result.output, where
    assert "this is a bug" not in result.stderr, f"{where}: {result.stderr}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"{where}: {result.stderr!r}"
    assert lines[0].startswith("Error: "), where
    assert " — " in lines[0], f"{where}: says what, not what to do: {lines[0]}"


def assert_no_crash(result: Result, args: list[str]) -> None:
    """For inputs that may legitimately succeed (an output path, say)."""
    where = f"digitnet {' '.join(args)}"
    assert "Traceback" not in result.output, where
    assert "this is a bug" not in result.stderr, f"{where}: {result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), where
    if result.exit_code != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, f"{where}: {result.stderr!r}"
        assert result.stderr.rstrip().splitlines()[-1] == errors[0], where


def test_the_walk_sees_the_core_commands() -> None:
    names = {path[-1] for path, _ in COMMANDS}
    assert {"download", "train", "evaluate", "predict", "info"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_usage_errors_are_one_line(
    runner: CliRunner, path: tuple[str, ...], command: click.Command
) -> None:
    cases = [[*path, "--definitely-not-an-option"]]
    if any(p.required for p in command.params if isinstance(p, click.Argument)):
        cases.append(list(path))
    for param in command.params:
        typed = isinstance(param.type, (click.types._NumberParamTypeBase, click.Choice))
        if typed and isinstance(param, click.Option) and not param.is_flag:
            cases.append([*path, param.opts[0], NONSENSE])
    for args in cases:
        assert_one_error_line(runner.invoke(main, args), args)


def bad_paths(folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    garbage = folder / "garbage.bin"
    garbage.write_bytes(b"\x00\xffgarbage, not what you think\n" * 10)
    (folder / "a-directory").mkdir(exist_ok=True)
    return {
        "missing": folder / "missing.npz",
        "directory": folder / "a-directory",
        "garbage": garbage,
        "below-a-file": garbage / "inside.npz",
    }


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_bad_paths_never_crash(
    runner: CliRunner, tmp_path: Path, path: tuple[str, ...], command: click.Command
) -> None:
    paths = bad_paths(tmp_path / "bad")
    required = [p for p in command.params if isinstance(p, click.Argument) and p.required]
    for param in command.params:
        if not isinstance(param.type, click.Path):
            continue
        for bad in paths.values():
            if isinstance(param, click.Option):
                fill = [str(paths["garbage"]) for _ in required]
                args = [*path, *fill, param.opts[0], str(bad)]
            else:
                args = [*path, *(str(bad) for _ in required)] if required else [*path, str(bad)]
            if "--quiet" in {o for p in command.params for o in p.opts}:
                args.append("--quiet")
            assert_no_crash(runner.invoke(main, args), args)


# ---------------------------------------------------------------------------
# Semantic bad inputs that must fail, with the exact one line


def test_bad_inputs_that_must_fail(runner: CliRunner, tmp_path: Path) -> None:
    paths = bad_paths(tmp_path / "bad")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [1, 2]\nb: &b [*a, *a]\nhidden_size: *b\n")
    cases = [
        ["train", "--config", str(bomb), "--quiet"],
        ["train", "--config", str(paths["garbage"]), "--quiet"],
        ["train", "--dataset", "emnist", "--quiet"],
        ["download", "--dataset", "emnist"],
        ["download", "--quiet"],  # every mirror unreachable
        ["download", "--quiet", "--data-dir", str(paths["below-a-file"])],
        ["evaluate", "--checkpoint", str(paths["garbage"])],
        ["evaluate", "--checkpoint", str(paths["directory"])],
        ["info", str(paths["missing"])],
        ["info", str(paths["garbage"])],
        ["predict", str(paths["garbage"]), "--checkpoint", str(paths["garbage"])],
    ]
    for args in cases:
        assert_one_error_line(runner.invoke(main, args), args)


def test_download_from_a_failing_mirror(runner: CliRunner, tmp_path: Path) -> None:
    with LocalMirror(tmp_path) as mirror:
        mirror.fail["*"] = 500
        args = ["download", "--quiet", "--mirror", mirror.url, "--data-dir", str(tmp_path / "d")]
        result = runner.invoke(main, args)
    assert_one_error_line(result, args)
    assert ": 500)" in result.stderr
