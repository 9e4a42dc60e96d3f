"""What the plugin's commands share: one-line errors, box arguments, the main loop.

A command's ``run(args) -> str`` does the work and returns what goes to stdout; a ``CliError``
becomes one ``error: ...`` line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


class CliError(Exception):
    """A bad argument: reported as one line on stderr with exit status 2."""


def parse_box(text: Sequence[str]) -> list[float]:
    """Four command-line words -> [x1, y1, x2, y2]; CliError naming the words otherwise."""
    values = []
    for word in text:
        try:
            value = float(word)
        except ValueError:
            raise CliError(f"--box {' '.join(text)}: {word!r} is not a number") from None
        if not math.isfinite(value):
            raise CliError(f"--box {' '.join(text)}: coordinates must be finite")
        values.append(value)
    return values


def check_out_folder(out: str | Path) -> Path:
    """The ``--out`` path, after checking that its folder exists."""
    out = Path(out)
    if not out.parent.exists():
        raise CliError(f"--out {out}: folder {out.parent} does not exist")
    return out


LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def add_log_level_argument(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """The commands' ``--log-level`` flag (default INFO)."""
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help=help)


def configure_logging(level: str, fmt: str = LOG_FORMAT) -> None:
    """Logging to stderr at ``level`` (a ``--log-level`` value), so stdout stays for results."""
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)


def run_command(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], str],
                argv: Sequence[str] | None = None) -> int:
    """Parse, run, print; logging goes to stderr so stdout stays machine-readable."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(run(args) + "\n")
    except CliError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    return 0
