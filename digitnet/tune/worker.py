"""One worker process of ``digitnet tune --jobs J``: ``python -m digitnet.tune.worker``.

The parent sends the study's settings as one JSON object on standard input (not
on the command line, where ``ps`` would show a storage password) and sets the
BLAS thread variables in the environment before this interpreter imports numpy.
The worker runs trials (study.run_worker), printing one line per finished trial
on stderr; Ctrl-C (SIGINT from the parent) ends it quietly with status 130, after
Optuna has marked its running trial failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from digitnet.errors import DigitnetError

INTERRUPTED = 130  # 128 + SIGINT, as shells expect


def spec_to_json(spec: Any, worker: int) -> str:
    """The settings a worker needs, as JSON (no pickle crosses the process boundary)."""
    return json.dumps(
        {
            "base": spec.base.to_dict(),
            "space": spec.space.to_dict(),
            "storage_url": spec.storage_url,
            "study_name": spec.study_name,
            "output": str(spec.output),
            "trials": spec.trials,
            "timeout": spec.timeout,
            "pruner": spec.pruner,
            "seed": spec.seed,
            "worker": worker,
        }
    )


def spec_from_json(text: str) -> tuple[Any, int]:
    from digitnet import config as config_module
    from digitnet.tune import space
    from digitnet.tune.study import StudySpec

    data = json.loads(text)
    base = config_module.from_dict(data["base"], "the parent's base config")
    spec = StudySpec(
        base=base,
        space=space.parse(data["space"], base, "the parent's search space"),
        storage_url=data["storage_url"],
        study_name=data["study_name"],
        output=Path(data["output"]),
        trials=int(data["trials"]),
        timeout=data["timeout"],
        pruner=data["pruner"],
        seed=data["seed"],
    )
    return spec, int(data["worker"])


def main() -> int:
    import logging
    import signal

    # A parent started in the background by a shell has SIGINT ignored, and children
    # inherit that: take Python's handler back, so the parent's SIGINT stops this worker.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    logging.basicConfig(level=logging.WARNING, format="Warning: %(message)s")
    worker = -1
    try:  # imports too: a Ctrl-C while they load (seconds on a busy machine) ends quietly
        from digitnet.tune import results
        from digitnet.tune.study import run_worker

        spec, worker = spec_from_json(sys.stdin.read())

        def say(row: Any) -> None:
            print(results.trial_line(row, worker), file=sys.stderr, flush=True)

        run_worker(spec, worker, on_trial=say)
    except KeyboardInterrupt:
        return INTERRUPTED
    except DigitnetError as exc:
        who = f"[worker {worker}] " if worker >= 0 else ""
        print(f"Error: {who}{exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
