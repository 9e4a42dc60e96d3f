"""``python runner_launch.py MODULE ARGS...``: ``python -m MODULE ARGS...`` with the tiny test
components registered first.

The entry points import only LAVIS and the plugin; a subprocess (or each torchrun worker) needs
the test-only model, builder and task of ``runner_tiny`` too. This script, run by path, has its
own folder on ``sys.path``, imports them, then runs MODULE exactly as ``-m`` would
(``runpy.run_module(..., run_name="__main__", alter_sys=True)``), so the code under test carries
no test hook.
"""

import runpy
import sys

import runner_tiny  # noqa: F401  (registers the test_runner_* components)

if __name__ == "__main__":
    module = sys.argv.pop(1)
    runpy.run_module(module, run_name="__main__", alter_sys=True)
