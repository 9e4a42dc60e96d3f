"""Build a tag vocabulary (one tag per line) from the captions of region annotation files.

A tag's count is the number of annotations whose caption yields it as a phrase (see
``lavis_dynrefer.data.phrases``); tags seen in fewer than ``--min-count`` annotations are cut.
Phrases stored by the converters in ``extra_info.phrases`` are used as they are; other captions
are parsed here. The file lists tags by descending count, ties alphabetically, so the same input
always gives the same file. Any other one-tag-per-line file (e.g. the RAM tag list) can be used
instead; ``lavis_dynrefer.data.tag_list.load_tag_list`` reads either.

Usage:
    python -m lavis_dynrefer.data.build_tag_vocab --annotations vg/train.json refcocog/train.json \
        --min-count 50 --out tags.txt
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lavis_dynrefer.cli import add_log_level_argument, configure_logging
from lavis_dynrefer.data.phrases import parse_phrases
from lavis_dynrefer.data.tag_list import write_tag_list

logger = logging.getLogger(__name__)


def annotation_phrases(annotation: Mapping[str, Any], reparse: bool = False) -> list[str]:
    """Phrases of one annotation: its stored ``extra_info.phrases``, else its parsed caption."""
    stored = (annotation.get("extra_info") or {}).get("phrases")
    if stored is not None and not reparse:
        return list(stored)
    caption = annotation.get("caption") or ""
    return parse_phrases(caption) if caption else []


def count_phrases(annotations: Iterable[Mapping[str, Any]], reparse: bool = False,
                  counts: Counter | None = None) -> Counter:
    """Add, for each phrase, the number of annotations that contain it to ``counts``."""
    counts = Counter() if counts is None else counts
    for annotation in annotations:
        counts.update(set(annotation_phrases(annotation, reparse)))
    return counts


def select_tags(counts: Mapping[str, int], min_count: int, max_tags: int | None = None
                ) -> list[str]:
    """Tags with count >= min_count, by descending count then alphabetically, at most max_tags.

    >>> select_tags({"car": 3, "red": 1, "bus": 3}, min_count=2)
    ['bus', 'car']
    """
    kept = sorted((tag for tag, count in counts.items() if count >= min_count),
                  key=lambda tag: (-counts[tag], tag))
    return kept if max_tags is None else kept[:max_tags]


def build_vocabulary(annotation_files: Sequence[str | Path], min_count: int,
                     max_tags: int | None = None, reparse: bool = False) -> list[str]:
    """Count phrases over all files and select the tags (see ``select_tags``)."""
    counts: Counter = Counter()
    for path in annotation_files:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"annotation file not found: {path}")
        with path.open(encoding="utf-8") as file:
            data = json.load(file)
        if "annotations" not in data:
            raise ValueError(f"{path}: no 'annotations' list; is it a region annotation file?")
        count_phrases(tqdm(data["annotations"], desc=path.name, unit="caption"), reparse, counts)
    tags = select_tags(counts, min_count, max_tags)
    logger.info("%d distinct phrases, %d with count >= %d, kept %d", len(counts),
                sum(1 for count in counts.values() if count >= min_count), min_count, len(tags))
    return tags


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m lavis_dynrefer.data.build_tag_vocab",
        description="Tag vocabulary (one tag per line) from training captions")
    parser.add_argument("--annotations", nargs="+", required=True,
                        help="region annotation files (training splits)")
    parser.add_argument("--min-count", type=int, default=1,
                        help="keep tags found in at least this many annotations (default 1)")
    parser.add_argument("--max-tags", type=int, default=None,
                        help="keep at most this many of the most frequent tags")
    parser.add_argument("--reparse", action="store_true",
                        help="parse captions even where extra_info.phrases is stored")
    parser.add_argument("--out", required=True, help="output tag list file")
    add_log_level_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    if args.min_count < 1:
        parser.error("--min-count must be >= 1")
    try:
        tags = build_vocabulary(args.annotations, args.min_count, args.max_tags, args.reparse)
        if not tags:
            raise ValueError(f"no tag reaches --min-count {args.min_count}; nothing to write")
        write_tag_list(tags, args.out)
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    logger.info("wrote %d tags to %s", len(tags), args.out)


if __name__ == "__main__":
    main()
