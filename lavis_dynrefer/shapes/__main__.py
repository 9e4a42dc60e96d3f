"""``python -m lavis_dynrefer.shapes --out DIR``: generate the shapes-world dataset.

Example:
    python -m lavis_dynrefer.shapes --out data/shapes --seed 0 --train 2000 --val 200 --test 200
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

from lavis_dynrefer.cli import add_log_level_argument, configure_logging
from lavis_dynrefer.shapes.writer import SPLIT_STREAMS, write_dataset

logger = logging.getLogger("lavis_dynrefer.shapes")

DEFAULT_COUNTS = {"train": 2000, "val": 200, "test": 200}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.shapes",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (non-negative)")
    for split in SPLIT_STREAMS:
        parser.add_argument(f"--{split}", type=int, default=DEFAULT_COUNTS[split],
                            help=f"{split} images (default {DEFAULT_COUNTS[split]})")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels")
    parser.add_argument("--workers", type=int, default=1,
                        help="rendering processes (the output does not depend on it)")
    parser.add_argument("--absolute-image-root", action="store_true",
                        help="store the absolute image folder as dataset.image_root")
    add_log_level_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    counts = {split: getattr(args, split) for split in SPLIT_STREAMS}
    if args.seed < 0 or args.size < 32 or any(n < 0 for n in counts.values()):
        parser.error("--seed and the split counts must be >= 0, --size >= 32")
    start = time.perf_counter()
    written = write_dataset(args.out, seed=args.seed, counts=counts, size=args.size,
                            workers=args.workers, absolute_root=args.absolute_image_root)
    logger.info("wrote %s in %.1f s", ", ".join(str(p) for p in written.values()),
                time.perf_counter() - start)


if __name__ == "__main__":
    main()
