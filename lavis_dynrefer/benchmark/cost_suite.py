"""``cost`` suite: parameters and per-region multiply-adds by stage beside the paper's (``cost``).

No weights are needed: the model is built on the meta device (see ``benchmark.cost``).
"""

from __future__ import annotations

import argparse

from lavis_dynrefer.benchmark.table import SuiteResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lavis_dynrefer.benchmark.cost import add_arguments as add_cost_arguments

    add_cost_arguments(parser)


def run(args: argparse.Namespace) -> SuiteResult:
    from lavis_dynrefer.benchmark.cost import count_from_arguments
    from lavis_dynrefer.benchmark.cost_report import format_table, to_json

    count = count_from_arguments(args)
    return SuiteResult("cost", columns=[], text=format_table(count), extra=to_json(count))
