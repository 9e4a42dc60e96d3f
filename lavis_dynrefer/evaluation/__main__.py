"""The metrics command: ``python -m lavis_dynrefer.evaluation TASK --gt GT.json --results R.json``.

Prints exactly one JSON object, the task's metrics (x100), as the last line of stdout; logging
goes to stderr. A metric that is undefined (an OVAD group without any positive box) prints as
``null``. Exit status 2 for unreadable or invalid input, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence

from lavis_dynrefer.cli import add_log_level_argument, configure_logging
from lavis_dynrefer.data.annotations import load_region_annotations
from lavis_dynrefer.evaluation import EVALUATORS, load_results
from lavis_dynrefer.grounding.formats import load_grounded, load_grounding

logger = logging.getLogger("lavis_dynrefer.evaluation")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lavis_dynrefer.evaluation",
        description="Score a result file against a region annotation file; prints one JSON "
                    "object (metrics x100) as the last line of stdout.")
    parser.add_argument("task", choices=sorted(EVALUATORS))
    parser.add_argument("--gt", required=True, help="region annotation file (XYXY boxes); for "
                                                    "grounding an expression file")
    parser.add_argument("--results", required=True, help="result file (JSON list)")
    add_log_level_argument(parser, help="stderr logging")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level, fmt="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.task == "grounding":  # its own formats (grounding.formats)
            gt, results = load_grounding(args.gt), load_grounded(args.results)
        else:
            gt, results = load_region_annotations(args.gt), load_results(args.results)
        metrics = EVALUATORS[args.task](gt, results)
    except (FileNotFoundError, ValueError) as exc:
        logger.error("%s", exc)
        return 2
    line = {k: (float(v) if math.isfinite(v) else None) for k, v in metrics.items()}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
