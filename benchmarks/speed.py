"""Speed of digitnet beside the hardware's floor, PyTorch and scikit-learn (issue 4).

Run from the project root:

    python benchmarks/speed.py [--data-dir DIR] [--repeats N] [--threads T]

Everything is measured side by side in this one process, in turn, so that the
ratios stay meaningful on a noisy shared machine: each contender first runs one
warm-up epoch, then every contender runs one epoch per round for ``--repeats``
rounds. Seconds are medians over the rounds; a ratio is the median over the rounds
of the two contenders' times in the same round.

* floor: only the matrix products one epoch needs, with the same shapes as
  training, timed with numpy into preallocated outputs: forward z^(2) = a^(1) W1ᵀ
  and z^(3) = a^(2) W2ᵀ, backward δ^(3)ᵀ a^(2), δ^(3) W2 and δ^(2)ᵀ a^(1) (no
  gradient with respect to the input). Nothing else: no activations, no update.
* digitnet: ``digitnet.training.train.train`` on the 60,000 training images (no
  validation split), one epoch per round, as ``EpochRecord.seconds`` reports it
  (the loop: shuffle, gather, forward, cost, backprop, update).
* PyTorch (when importable): the same network (sigmoid hidden layer, softmax
  cross-entropy), SGD with the same momentum, learning rate and L2 (weight decay
  λ/n on the weights only), data preloaded as tensors, same number of threads.
  Like digitnet's loop, which reports each mini-batch's cost and accuracy to its
  progress bar, it reads each batch's cost (``loss.item()``, checked finite) and
  counts the batch's correct predictions.
* scikit-learn (when importable): MLPClassifier(solver="sgd"), same momentum
  (classical), learning rate, batch size and L2 (its alpha is per batch:
  alpha = λ m / n), float32 inputs, one ``partial_fit`` per epoch.
* inference: the forward pass over the 10,000 test images (digitnet's
  ``train.score``, which ``digitnet evaluate`` calls), beside its floor (two
  products) and the two libraries; the wall time of one ``digitnet predict
  one.png`` process from start to exit; the peak resident memory (ru_maxrss) of a
  full ``digitnet train`` run with the default configuration.
* distortions (issue 12): one epoch of ``configs/best.yaml``'s run (784-800-10 ReLU,
  Nesterov, elastic + affine distortions of every mini-batch) beside the same epoch
  with every distortion switched off, in turn; the ratio is what distortions cost.

The header names the CPU model, its vector ISA level (AVX-512 or AVX2, from the
flags in /proc/cpuinfo) and the kernels OpenBLAS chose for it (threadpoolctl's
``architecture``, e.g. Haswell or SkylakeX), because the ratios depend on them.

The benchmark is not a test: it asserts nothing and the test suite does not run it.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digitnet import config as config_module
from digitnet.config import Config
from digitnet.data import idx
from digitnet.data.inputs import TrainingData, split_validation, to_inputs
from digitnet.training.train import score, train
from digitnet.vocabulary import N_CLASSES, N_INPUTS

REPO = Path(__file__).resolve().parents[1]
HIDDEN_SIZES = (100, 800)
BATCH_SIZES = (32, 128, 512)
DEFAULTS = Config()  # learning rate, momentum, λ, activation: the defaults

Epoch = Callable[[], float]  # runs one epoch, returns its seconds


# -- contenders -------------------------------------------------------------------------


def floor_epoch(n: int, hidden: int, batch: int) -> Epoch:
    """Only the five products of each step, for every (possibly short) batch of an epoch."""
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((hidden, N_INPUTS), dtype=np.float32) * 0.03
    W2 = rng.standard_normal((N_CLASSES, hidden), dtype=np.float32) * 0.03
    A1 = rng.random((batch, N_INPUTS), dtype=np.float32)
    A2 = rng.random((batch, hidden), dtype=np.float32)
    Z2 = np.empty((batch, hidden), dtype=np.float32)
    Z3 = np.empty((batch, N_CLASSES), dtype=np.float32)
    delta3 = rng.standard_normal((batch, N_CLASSES), dtype=np.float32)
    delta2 = np.empty((batch, hidden), dtype=np.float32)
    grad_W1 = np.empty_like(W1)
    grad_W2 = np.empty_like(W2)
    sizes = [min(batch, n - start) for start in range(0, n, batch)]

    def epoch() -> float:
        started = time.perf_counter()
        for m in sizes:
            np.matmul(A1[:m], W1.T, out=Z2[:m])  # z^(2)
            np.matmul(A2[:m], W2.T, out=Z3[:m])  # z^(3)
            np.matmul(delta3[:m].T, A2[:m], out=grad_W2)  # ∂J/∂W2
            np.matmul(delta3[:m], W2, out=delta2[:m])  # δ^(2) before g′
            np.matmul(delta2[:m].T, A1[:m], out=grad_W1)  # ∂J/∂W1
        return time.perf_counter() - started

    return epoch


def digitnet_epoch(data: TrainingData, hidden: int, batch: int) -> Epoch:
    config = Config(hidden_size=hidden, batch_size=batch, validation_size=0, epochs=10_000)
    epochs: Iterator[Any] = train(config, data)
    return lambda: float(next(epochs)[0].seconds)


NO_DISTORTIONS = {
    "augment_shift": 0.0,
    "augment_rotate": 0.0,
    "augment_scale": 0.0,
    "augment_shear": 0.0,
    "elastic_alpha": 0.0,
}


def best_yaml_epochs(data: TrainingData) -> dict[str, Epoch]:
    """configs/best.yaml's run, one epoch per call: with its distortions and without any."""
    distorted = config_module.load(
        REPO / "configs" / "best.yaml", {"validation_size": 0, "epochs": 10_000}
    )
    plain = config_module.apply(distorted, NO_DISTORTIONS, "benchmark")
    with_distortions: Iterator[Any] = train(distorted, data)
    without: Iterator[Any] = train(plain, data)
    return {
        "distorted": lambda: float(next(with_distortions)[0].seconds),
        "plain": lambda: float(next(without)[0].seconds),
    }


def distortion_batch_seconds(data: TrainingData, rounds: int = 30) -> float:
    """Seconds of distorting one batch of 100 training images the way configs/best.yaml
    does, median of ``rounds``: what training adds before each step (wall time: OpenCV's
    remap runs on its own threads)."""
    from digitnet.data.augment import Distortion, distort
    from digitnet.training.allocator import keep_freed_memory

    keep_freed_memory()  # as train() does before distorting
    config = config_module.load(REPO / "configs" / "best.yaml")
    distortion = Distortion.from_config(config)
    rng = np.random.default_rng(0)
    pixels = data.pixels_train
    images = to_inputs(pixels[:100]) if pixels is not None else data.X_train[:100]
    seconds = []
    for _ in range(rounds + 1):
        started = time.perf_counter()
        distort(images, rng, distortion, data.y_train[:100])
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds[1:])


def torch_epoch(data: TrainingData, hidden: int, batch: int) -> Epoch:
    import torch
    from torch import nn
    from torch.nn import functional

    torch.manual_seed(0)
    X = torch.from_numpy(data.X_train)
    y = torch.from_numpy(data.y_train.astype(np.int64))
    model = nn.Sequential(nn.Linear(N_INPUTS, hidden), nn.Sigmoid(), nn.Linear(hidden, N_CLASSES))
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    n = len(X)
    optimiser = torch.optim.SGD(
        [
            {"params": weights, "weight_decay": DEFAULTS.l2 / n},  # (λ/n) θ, as in (B8)
            {"params": biases, "weight_decay": 0.0},
        ],
        lr=DEFAULTS.learning_rate,
        momentum=DEFAULTS.momentum,
    )

    def epoch() -> float:
        started = time.perf_counter()
        order = torch.randperm(n)
        for start in range(0, n, batch):
            rows = order[start : start + batch]
            labels = y[rows]
            optimiser.zero_grad(set_to_none=True)
            logits = model(X[rows])
            loss = functional.cross_entropy(logits, labels)
            loss.backward()
            optimiser.step()
            # The batch's cost (checked finite) and accuracy as numbers, as digitnet's loop
            # computes them for its progress bar: the same work on both sides.
            batch_cost = loss.item()
            if not math.isfinite(batch_cost):
                raise RuntimeError(f"PyTorch's cost became {batch_cost}")
            int((logits.argmax(dim=1) == labels).sum())
        return time.perf_counter() - started

    return epoch


def sklearn_epoch(data: TrainingData, hidden: int, batch: int) -> Epoch:
    from sklearn.neural_network import MLPClassifier

    n = len(data.X_train)
    model = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        activation="logistic",
        solver="sgd",
        learning_rate="constant",
        learning_rate_init=DEFAULTS.learning_rate,
        momentum=DEFAULTS.momentum,
        nesterovs_momentum=False,
        alpha=DEFAULTS.l2 * batch / n,  # its L2 gradient is (alpha/m) θ; ours (λ/n) θ
        batch_size=batch,
        shuffle=True,
        random_state=0,
    )
    classes = np.arange(N_CLASSES)

    def epoch() -> float:
        started = time.perf_counter()
        model.partial_fit(data.X_train, data.y_train, classes=classes)
        return time.perf_counter() - started

    return epoch


# -- inference --------------------------------------------------------------------------


def inference_contenders(
    data: TrainingData, X_test: NDArray[np.float32], y_test: NDArray[np.uint8], hidden: int
) -> dict[str, Epoch]:
    rng = np.random.default_rng(0)
    config = Config(hidden_size=hidden)
    from digitnet.nn.network import init_params

    params = init_params(hidden, config.activation, rng)
    A2 = np.empty((len(X_test), hidden), dtype=np.float32)
    Z3 = np.empty((len(X_test), N_CLASSES), dtype=np.float32)

    def timed(run: Callable[[], object]) -> Epoch:
        def once() -> float:
            started = time.perf_counter()
            run()
            return time.perf_counter() - started

        return once

    def floor() -> None:
        np.matmul(X_test, params.W1.T, out=A2)
        np.matmul(A2, params.W2.T, out=Z3)

    out = {
        "floor": timed(floor),
        "digitnet": timed(lambda: score(params, X_test, y_test, config, n_train=len(X_test))),
    }
    if _importable("torch"):
        import torch

        model = torch.nn.Sequential(
            torch.nn.Linear(N_INPUTS, hidden), torch.nn.Sigmoid(), torch.nn.Linear(hidden, 10)
        )
        X = torch.from_numpy(X_test)

        def torch_predict() -> None:
            with torch.inference_mode():
                model(X).argmax(dim=1)

        out["PyTorch"] = timed(torch_predict)
    if _importable("sklearn"):
        from sklearn.neural_network import MLPClassifier

        fitted = MLPClassifier(
            hidden_layer_sizes=(hidden,), activation="logistic", solver="sgd", max_iter=1
        )
        fitted.partial_fit(data.X_train[:2000], data.y_train[:2000], classes=np.arange(10))
        out["scikit-learn"] = timed(lambda: fitted.predict(X_test))
    return out


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# -- processes: predict start-up and peak memory ----------------------------------------


def digitnet_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m digitnet``."""
    script = Path(sys.executable).with_name("digitnet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "digitnet"]


def peak_training_memory(
    data_dir: Path, workdir: Path, epochs: int, threads: int
) -> tuple[float, float, Path]:
    """(peak RSS in MiB, wall seconds, checkpoint) of one ``digitnet train`` run with the
    default configuration on the full training set (``epochs`` epochs: the memory a run
    needs is allocated before the first epoch ends, so more epochs only take longer)."""
    checkpoint = workdir / "model.npz"
    command = [*digitnet_command(), "train", "--data-dir", str(data_dir), "-o", str(checkpoint)]
    command += ["--epochs", str(epochs), "--quiet"]
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment
    )
    # wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix in every child).
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        assert process.stderr is not None
        sys.exit(f"digitnet train failed: {process.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, seconds, checkpoint  # Linux reports KiB


def predict_wall_times(checkpoint: Path, image: Path, runs: int) -> list[float]:
    command = [*digitnet_command(), "predict", str(image), "--checkpoint", str(checkpoint)]
    times = []
    for _ in range(runs + 1):  # the first run only warms the file cache
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times[1:]


def write_test_png(images: NDArray[np.uint8], path: Path) -> None:
    from PIL import Image

    Image.fromarray(255 - images[0]).save(path)  # dark ink on white, as a user would draw it


# -- measuring in rounds ----------------------------------------------------------------


@dataclass
class Row:
    task: str
    times: dict[str, list[float]] = field(default_factory=dict)  # contender -> seconds per round

    @property
    def seconds(self) -> dict[str, float]:
        return {name: statistics.median(t) for name, t in self.times.items()}


def measure_round_robin(contenders: dict[str, Epoch], repeats: int) -> dict[str, list[float]]:
    """One warm-up call each, then ``repeats`` rounds of one call each, in turn."""
    for run in contenders.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            times[name].append(run())
    return times


def ratio(row: Row, other: str) -> str:
    """digitnet ÷ other: the median over rounds of the two times measured in the same round.

    Pairing by round keeps a burst of load from other processes (this machine is shared)
    on both sides of a ratio instead of on one median only.
    """
    if "digitnet" not in row.times or other not in row.times:
        return "—"
    pairs = zip(row.times["digitnet"], row.times[other], strict=True)
    return f"{statistics.median(mine / theirs for mine, theirs in pairs):.2f}"


def format_table(rows: list[Row], names: list[str]) -> str:
    head = f"| {'task':<34} |" + "".join(f" {name + ' s':>14} |" for name in names)
    head += " ÷floor | ÷PyTorch | ÷sklearn |"
    lines = [head, "|" + "|".join("-" * (len(cell)) for cell in head.split("|")[1:-1]) + "|"]
    for row in rows:
        cells = "".join(
            f" {row.seconds[name]:>14.3f} |" if name in row.seconds else f" {'—':>14} |"
            for name in names
        )
        lines.append(
            f"| {row.task:<34} |{cells} {ratio(row, 'floor'):>6} |"
            f" {ratio(row, 'PyTorch'):>8} | {ratio(row, 'scikit-learn'):>8} |"
        )
    return "\n".join(lines)


def format_distortion_row(times: dict[str, list[float]]) -> str:
    distorted, plain = times["distorted"], times["plain"]
    per_round = statistics.median(d / p for d, p in zip(distorted, plain, strict=True))
    head = "| best.yaml epoch (784-800-10 ReLU, batch 100) | distorted s | undistorted s | ratio |"
    cells = [
        "| with vs without elastic + affine distortions ",
        f" {statistics.median(distorted):>11.3f} ",
        f" {statistics.median(plain):>13.3f} ",
        f" {per_round:>5.2f} |",
    ]
    rule = "|" + "|".join("-" * len(cell) for cell in head.split("|")[1:-1]) + "|"
    return "\n".join([head, rule, "|".join(cells)])


def cpu_model_and_isa() -> tuple[str, str]:
    """The CPU's model name and its widest vector ISA level, from /proc/cpuinfo's flags."""
    cpu, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not cpu:
                cpu = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    cpu = cpu or platform.processor() or "?"
    if "avx512f" in flags:
        isa = "AVX-512 (" + " ".join(sorted(f for f in flags if f.startswith("avx512"))) + ")"
    elif "avx2" in flags:
        isa = "AVX2" + (" + FMA" if "fma" in flags else "")
    elif "avx" in flags:
        isa = "AVX"
    else:
        isa = "no AVX flag found" if flags else "unknown (no /proc/cpuinfo flags)"
    return cpu, isa


def machine_info(threads: int) -> list[str]:
    from threadpoolctl import threadpool_info

    cpu, isa = cpu_model_and_isa()
    blas = sorted(
        {
            f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernels)"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        }
    )
    lines = [
        f"machine: {cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}",
        f"ISA level: {isa}",
        f"python {platform.python_version()}, numpy {np.__version__}, BLAS: {'; '.join(blas)}",
        f"threads: {threads} (BLAS pools and torch.set_num_threads)",
    ]
    versions = []
    for module in ("torch", "sklearn", "scipy"):
        if _importable(module):
            versions.append(f"{module} {sys.modules[module].__version__}")
    lines.append("libraries: " + ", ".join(versions))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("DIGITNET_TEST_MNIST") or "data"),
        help="folder of the MNIST files [default: $DIGITNET_TEST_MNIST or ./data]",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per contender")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--hidden", type=int, nargs="*", default=list(HIDDEN_SIZES), help="none: no training rows"
    )
    parser.add_argument("--batch", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument("--no-processes", action="store_true", help="skip predict and memory")
    parser.add_argument(
        "--no-distortions", action="store_true", help="skip the best.yaml distortion row"
    )
    parser.add_argument(
        "--memory-epochs", type=int, default=3, help="epochs of the peak-memory training run"
    )
    args = parser.parse_args()

    # digitnet's training step runs on scipy's BLAS (digitnet/nn/blas.py), which it imports
    # lazily: load it now so that the thread limit below reaches its pool too.
    import scipy.linalg.blas  # noqa: F401
    from threadpoolctl import threadpool_limits

    logging.getLogger("digitnet").addHandler(logging.NullHandler())  # the MD5 note is expected
    logging.getLogger("digitnet").propagate = False
    threadpool_limits(args.threads)
    load_before = os.getloadavg()
    # The processes first, while this one is still small: Linux counts a child's peak
    # resident memory (ru_maxrss) from the parent's at fork, so measuring after loading
    # the data and torch would report this benchmark's memory, not digitnet's.
    extra = []
    process_rows = []
    test_images, test_labels = None, None
    if not args.no_processes:
        with tempfile.TemporaryDirectory() as tmp:
            parent_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            peak_mib, train_seconds, checkpoint = peak_training_memory(
                args.data_dir, Path(tmp), args.memory_epochs, args.threads
            )
            test_images, test_labels = idx.load_split("mnist", args.data_dir, "test")
            png = Path(tmp) / "one.png"
            write_test_png(test_images, png)
            predict_times = predict_wall_times(checkpoint, png, runs=5)
        row = Row("digitnet predict one.png (process)")
        row.times["digitnet"] = predict_times
        process_rows.append(row)
        default = Config()
        extra.append(
            f"peak memory of a training run on all of MNIST (`digitnet train --epochs"
            f" {args.memory_epochs}`, default config: 784-{default.hidden_size}-10, batch"
            f" {default.batch_size}): {peak_mib:.0f} MiB max RSS of the process (this benchmark"
            f" had {parent_mib:.0f} MiB when it started it; the run took {train_seconds:.1f} s)"
        )

    use_torch = not args.no_torch and _importable("torch")
    use_sklearn = not args.no_sklearn and _importable("sklearn")
    if use_torch:
        import torch

        torch.set_num_threads(args.threads)

    images, labels = idx.load_split("mnist", args.data_dir, "train")
    if test_images is None or test_labels is None:
        test_images, test_labels = idx.load_split("mnist", args.data_dir, "test")
    data = split_validation(images, labels, validation_size=0)  # as `digitnet train` does
    X_test = to_inputs(test_images)
    n = len(data.X_train)

    names = ["floor", "digitnet"] + ["PyTorch"] * use_torch + ["scikit-learn"] * use_sklearn
    rows = []
    for hidden in args.hidden:
        for batch in args.batch:
            contenders = {
                "floor": floor_epoch(n, hidden, batch),
                "digitnet": digitnet_epoch(data, hidden, batch),
            }
            if use_torch:
                contenders["PyTorch"] = torch_epoch(data, hidden, batch)
            if use_sklearn:
                contenders["scikit-learn"] = sklearn_epoch(data, hidden, batch)
            row = Row(f"train epoch 784-{hidden}-10, batch {batch}")
            row.times = measure_round_robin(contenders, args.repeats)
            rows.append(row)
            print(format_table([row], names).splitlines()[-1], file=sys.stderr, flush=True)
    for hidden in args.hidden:
        contenders = inference_contenders(data, X_test, test_labels, hidden)
        contenders = {k: v for k, v in contenders.items() if k in names}
        row = Row(f"evaluate 10k test, 784-{hidden}-10")
        row.times = measure_round_robin(contenders, max(args.repeats, 5))
        rows.append(row)
    rows += process_rows
    distortion_times = None
    if not args.no_distortions:
        distortion_times = measure_round_robin(best_yaml_epochs(data), args.repeats)

    print(format_table(rows, names))
    print()
    if distortion_times is not None:
        print(format_distortion_row(distortion_times))
        per_batch = distortion_batch_seconds(data)
        print(
            f"\ndistorting one batch of 100 as best.yaml does: {per_batch * 1e3:.2f} ms"
            " (wall time, median of 30)"
        )
        print()
    for line in extra:
        print(line)
    print(
        f"seconds: medians of {args.repeats} epochs after one warm-up epoch each, contenders in"
        f" turn; ratios: medians of the per-round ratios;"
        f" {n:,} training images per epoch"
    )
    for line in machine_info(args.threads):
        print(line)
    load_after = os.getloadavg()
    before = " ".join(f"{x:.2f}" for x in load_before)
    after = " ".join(f"{x:.2f}" for x in load_after)
    print(f"load average (1, 5, 15 min) before: {before}; after: {after}")


if __name__ == "__main__":
    main()
