"""``python -m lavis_dynrefer.benchmark SUITE [--json OUT] [suite options]``: see the package."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from lavis_dynrefer.benchmark.table import format_table, write_json
from lavis_dynrefer.cli import CliError, run_command

SUITES = {
    "processor": "lavis_dynrefer.benchmark.processor_suite",
    "dedup": "lavis_dynrefer.benchmark.dedup_suite",
    "inference": "lavis_dynrefer.benchmark.inference_suite",
    "train": "lavis_dynrefer.benchmark.train_suite",
    "cost": "lavis_dynrefer.benchmark.cost_suite",
    "startup": "lavis_dynrefer.benchmark.startup_suite",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.benchmark",
                                     description=__doc__)
    commands = parser.add_subparsers(dest="suite", required=True, metavar="SUITE",
                                     help=", ".join(SUITES))
    for name, module in SUITES.items():
        suite = importlib.import_module(module)
        sub = commands.add_parser(name, help=suite.__doc__.splitlines()[0],
                                  description=suite.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--json", metavar="OUT", help="also write the result as JSON here")
        suite.add_arguments(sub)
        sub.set_defaults(run_suite=suite.run)
    return parser


def run(args: argparse.Namespace) -> str:
    if args.json and not Path(args.json).parent.is_dir():
        raise CliError(f"--json {args.json}: folder {Path(args.json).parent} does not exist")
    try:
        result = args.run_suite(args)
    except ValueError as err:
        raise CliError(str(err)) from err
    if args.json:
        write_json(result, args.json)
    return format_table(result)


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
