"""Trials per hour of `digitnet tune`: with the median pruner against without, and
--jobs 2 against --jobs 1, measured side by side on this machine.

Each setting runs one fresh study of --trials trials (same base config, space and
sampler seed) as a `digitnet tune` child process and is timed from start to exit,
so start-up, data loading, storage writes and the summary are all counted.

    python benchmarks/tune_throughput.py --data-dir /path/to/mnist [--trials 8]

By default: BASE below (the 784-100-10, 8-epoch configs/fast.yaml from before issue 14)
with λ searched (configs/spaces/lambda.yaml), so every trial costs about the same and
the settings differ only in pruning and workers.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = """\
hidden_size: 100
activation: relu
output: softmax
optimizer: nesterov
momentum: 0.9
learning_rate: 0.1
lr_schedule: cosine
l2: 0.5
batch_size: 100
epochs: 8
seed: 0
"""
SETTINGS = [  # (label, extra arguments)
    ("jobs 1, no pruning", ["--jobs", "1", "--pruner", "none"]),
    ("jobs 1, median pruning", ["--jobs", "1", "--pruner", "median"]),
    ("jobs 2, median pruning", ["--jobs", "2", "--pruner", "median"]),
]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_kernel() -> str:
    import numpy  # noqa: F401  (loads its BLAS so threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})" for i in infos
    )


def run(label: str, extra: list[str], args: argparse.Namespace, folder: Path) -> float:
    out = folder / label.replace(" ", "_").replace(",", "")
    cmd = [
        sys.executable, "-m", "digitnet", "tune", "--config", str(args.config),
        "--space", str(args.space), "--trials", str(args.trials), "--seed", "0",
        "--data-dir", str(args.data_dir), "-o", str(out), *extra,
    ]  # fmt: skip
    # One BLAS thread per worker in every setting: --jobs 2 gives each of its two workers
    # one (cores // jobs), and the single worker of --jobs 1 gets one too, so "jobs 2 vs 1"
    # is two single-threaded trainings at once against one. (On a busy machine two BLAS
    # threads for one worker were much slower than one: README, Performance.)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{label}: digitnet tune failed:\n{result.stderr}")
    pruned = sum(" PRUNED " in line for line in result.stdout.splitlines())
    rate = args.trials / seconds * 3600
    print(f"{label:<24} {seconds:7.1f} s  {rate:7.0f} trials/h  ({pruned} pruned)", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--config", type=Path, help="base config [default: BASE above]")
    space = ROOT / "configs/spaces/lambda.yaml"
    parser.add_argument("--space", type=Path, default=space)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for --jobs 1")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores; BLAS: {blas_kernel()}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.config is None:
            args.config = Path(tmp) / "base.yaml"
            args.config.write_text(BASE)
        print(f"{args.trials} trials of {args.config.name} × {args.space.name} per setting")
        rates = {label: run(label, extra, args, Path(tmp)) for label, extra in SETTINGS}
    base = rates["jobs 1, no pruning"]
    print(f"pruning: {rates['jobs 1, median pruning'] / base:.2f}x the trials/h of no pruning")
    print(
        f"jobs 2: {rates['jobs 2, median pruning'] / rates['jobs 1, median pruning']:.2f}x"
        " the trials/h of jobs 1 (both with pruning)"
    )


if __name__ == "__main__":
    main()
