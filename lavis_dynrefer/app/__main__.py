"""Serve the DynRefer page: ``python -m lavis_dynrefer.app [--port 8501] [--address 127.0.0.1]
[--model-type shapes | --checkpoint FILE]``.

A thin launcher: ``streamlit run`` on ``lavis_dynrefer/app/page.py``, headless (no browser is
opened, no usage statistics are sent), until Ctrl-C. Open ``http://ADDRESS:PORT`` in a browser.
Bad arguments end with one ``error: ...`` line (exit status 2).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lavis_dynrefer.cli import CliError

logger = logging.getLogger("lavis_dynrefer.app")

PAGE = Path(__file__).with_name("page.py")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.app",
                                     description="Serve the DynRefer web page (Streamlit).")
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (8501)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to listen on (127.0.0.1: this machine only; 0.0.0.0: all)")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--model-type", default="shapes",
                       help="dynrefer model type (shapes: the shipped model)")
    model.add_argument("--checkpoint", help="weights to load into the shapes model")
    return parser


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The ``streamlit run`` command line for ``args``."""
    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port}: must lie in 1..65535")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise CliError(f"--checkpoint {args.checkpoint}: no such file")
    page_args = ["--model-type", args.model_type]
    if args.checkpoint:
        page_args = ["--checkpoint", str(Path(args.checkpoint).resolve())]
    return [sys.executable, "-m", "streamlit", "run", str(PAGE),
            "--server.headless", "true", "--server.port", str(args.port),
            "--server.address", args.address, "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
            "--", *page_args]


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        command = streamlit_command(args)
    except CliError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    logger.info("serving http://%s:%d (Ctrl-C stops)", args.address, args.port)
    sys.stdout.flush()
    sys.stderr.flush()
    # Streamlit replaces this process, so a signal to it (Ctrl-C, kill) stops the server itself.
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
