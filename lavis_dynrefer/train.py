"""Train with LAVIS's runner: ``python -m lavis_dynrefer.train --cfg-path X.yaml [--options k=v]``.

Works on one process (CPU or GPU) and under ``torchrun --nproc_per_node=N`` (gloo on CPU, nccl
on GPU). The flags are those of LAVIS's repository ``train.py``; see ``runners.launch``.
"""

from __future__ import annotations

from collections.abc import Sequence

from lavis.runners.runner_base import RunnerBase

from lavis_dynrefer.runners.launch import build_runner, shutdown


def main(argv: Sequence[str] | None = None) -> RunnerBase:
    """Build the runner from the flags, train, and return the runner (for tests).

    Raises:
        SystemExit: ``error: ...`` (one line) for a configuration mistake: a missing file, an
            unregistered name, a bad ``run:`` value or a ``ConfigError`` of the model, dataset
            or task sections (see ``runners.launch.build_runner``).
    """
    try:
        runner = build_runner("Training", argv)
        runner.train()
    finally:
        shutdown()
    return runner


if __name__ == "__main__":
    main()
