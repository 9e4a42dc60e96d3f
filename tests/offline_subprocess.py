"""The environment of the tests' subprocesses (entry points, torchrun workers).

Offline (any network call is a bug), one thread per process (2 shared cores; also makes the
runs' floating-point reductions repeatable), no torchrun variables inherited from an outer
launcher, and this checkout first on ``PYTHONPATH`` so the code under test is the one imported
even when the installed package points elsewhere. Subprocesses are outside the test process's
network guard, so torchrun's loopback rendezvous works.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def subprocess_env() -> dict[str, str]:
    """``os.environ`` with the changes above."""
    python_path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(python_path)}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env
