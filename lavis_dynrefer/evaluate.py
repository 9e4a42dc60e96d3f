"""Evaluate with LAVIS's runner: ``python -m lavis_dynrefer.evaluate --cfg-path X.yaml``.

Evaluates the weights the model config loads on ``run.test_splits``, without reloading a best
checkpoint (LAVIS's ``evaluate.py``: ``runner.evaluate(skip_reload=True)``). Works on one process
and under ``torchrun``, like ``lavis_dynrefer.train``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lavis_dynrefer.runners.launch import build_runner, shutdown


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Build the runner from the flags and return the test logs by split name.

    Raises:
        SystemExit: ``error: ...`` (one line) for a configuration mistake, as ``train.main``.
    """
    try:
        return build_runner("Evaluation", argv).evaluate(skip_reload=True)
    finally:
        shutdown()


if __name__ == "__main__":
    main()
