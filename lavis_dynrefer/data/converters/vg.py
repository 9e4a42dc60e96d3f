"""Visual Genome -> region annotation files, one per DenseCap split.

Inputs (the public VG release plus DenseCap's split file):

- ``region_descriptions.json``: a list of images ``{"id", "regions": [{"region_id", "image_id",
  "phrase", "x", "y", "width", "height"}]}``; boxes are (x, y, width, height) pixels. v1.0 names
  the region id ``id``; both spellings are read.
- ``image_data.json``: a list of ``{"image_id" (v1.2) or "id" (v1.0), "width", "height",
  "coco_id", ...}``; the image size comes from here.
- ``densecap_splits.json``: ``{"train": [image ids], "val": [...], "test": [...]}``.

Per region, as DenseCap preprocesses VG: the phrase is lower-cased, a few symbols are spelled out,
accents are stripped and ASCII punctuation is deleted; phrases that are empty or longer than
``--max-words`` (15) words are dropped; the box becomes XYXY, is clipped to the image, and is
dropped when nothing is left. Annotation ids run 1..N per split in split-file order; the VG
region id is kept in ``extra_info.region_id``. (The release clamps x1, y1 to >= 1, a 1-based
Lua leftover; here boxes are clipped to the 0-based pixel frame [0, W] x [0, H].)

VG versions differ only in arguments: v1.0 and v1.2 by their files; VG-COCO (the VG images that
are also COCO images, split by its own split file) by ``--split-file``, ``--require-coco-id`` and
``--exclude-coco-ids`` (COCO ids to leave out, e.g. RefCOCOg val/test images).

Usage:
    python -m lavis_dynrefer.data.converters.vg --region-descriptions region_descriptions.json \
        --image-data image_data.json --split-file densecap_splits.json \
        --image-root data/vg/images --out-dir data/vg/dynrefer/vg1.2
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lavis_dynrefer.data.converters.common import (
    ConversionError,
    add_common_arguments,
    attach_phrases,
    build_region_file,
    clip_xyxy,
    image_record,
    load_json,
    log_counts,
    region_record,
    require_file,
    require_keys,
    run_cli,
    write_region_file,
    xywh_to_xyxy,
)

logger = logging.getLogger(__name__)

# Symbols DenseCap spells out before deleting punctuation (its VG preprocessing).
_SPELLED_OUT = {"\u00bd": "half", "\u00b0": " degree", "\u00a2": "cent", "\u2014": "-",
                "\u2122": "", "\u2026": ""}
_DELETE_PUNCTUATION = str.maketrans("", "", string.punctuation)


@dataclasses.dataclass(frozen=True)
class VGOptions:
    """How to convert; the defaults are VG v1.2 with the DenseCap protocol.

    Attributes:
        max_words: drop phrases with more words than this (DenseCap: 15).
        file_name_format: ``images[].file_name`` from the image id (``{image_id}``).
        require_coco_id: keep only images that have a COCO id (VG-COCO).
        exclude_coco_ids: COCO image ids to leave out.
        image_root: stored as ``dataset.image_root``.
        phrases: parse noun/adjective phrases into ``extra_info.phrases``.
        keep_empty_images: keep images whose regions were all dropped.
        description: stored as ``dataset.description``.
    """

    max_words: int = 15
    file_name_format: str = "{image_id}.jpg"
    require_coco_id: bool = False
    exclude_coco_ids: frozenset[int] = frozenset()
    image_root: str | None = None
    phrases: bool = True
    keep_empty_images: bool = False
    description: str = "visual_genome"


def normalize_phrase(phrase: str) -> str:
    """Lower-case, spell out a few symbols, strip accents, delete ASCII punctuation.

    >>> normalize_phrase("  A man's T-shirt, caf\u00e9 \u00bd  full!")
    'a mans tshirt cafe half full'
    """
    text = phrase.lower()
    for symbol, spelled in _SPELLED_OUT.items():
        text = text.replace(symbol, spelled)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))
    return " ".join(text.translate(_DELETE_PUNCTUATION).split())


def _image_id(record: Mapping[str, Any], where: str) -> int:
    for key in ("image_id", "id"):  # v1.2 spells it image_id, v1.0 id
        if key in record:
            return int(record[key])
    raise ConversionError(f"{where}: no 'image_id' or 'id' in {dict(record)!r:.200}")


def index_image_data(image_data: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """image id -> its ``image_data.json`` record (width, height, coco_id)."""
    index = {}
    for position, record in enumerate(image_data):
        where = f"image_data.json entry {position}"
        require_keys(record, ("width", "height"), where)
        index[_image_id(record, where)] = record
    return index


def index_regions(region_descriptions: Sequence[Mapping[str, Any]]
                  ) -> dict[int, Sequence[Mapping[str, Any]]]:
    """image id -> its regions, from ``region_descriptions.json``."""
    index = {}
    for position, entry in enumerate(region_descriptions):
        where = f"region_descriptions.json entry {position}"
        require_keys(entry, ("regions",), where)
        regions = entry["regions"]
        if "id" in entry or "image_id" in entry:
            image_id = _image_id(entry, where)
        elif regions:
            image_id = _image_id(regions[0], where)
        else:
            continue
        index[image_id] = regions
    return index


def convert_split(regions: Mapping[int, Sequence[Mapping[str, Any]]],
                  images: Mapping[int, Mapping[str, Any]], split_ids: Sequence[int],
                  options: VGOptions, split: str = "") -> dict[str, Any]:
    """Build one split's region annotation file from indexed VG data.

    Args:
        regions: ``index_regions`` output.
        images: ``index_image_data`` output.
        split_ids: the split's image ids, in split-file order.
        options: see VGOptions.
        split: the split name, for messages.
    """
    counts: Counter = Counter()
    image_records, annotations = [], []
    for image_id in tqdm(split_ids, desc=f"VG {split}", unit="image"):
        image_id = int(image_id)
        info = images.get(image_id)
        if info is None or image_id not in regions:
            counts["images_missing_from_vg_files"] += 1
            continue
        coco_id = info.get("coco_id")
        if (options.require_coco_id and coco_id is None) or coco_id in options.exclude_coco_ids:
            counts["images_filtered_by_coco_id"] += 1
            continue
        width, height = int(info["width"]), int(info["height"])
        image_records.append(image_record(
            image_id, options.file_name_format.format(image_id=image_id), width, height))
        for position, region in enumerate(regions[image_id]):
            where = f"image {image_id} region {position}"
            require_keys(region, ("phrase", "x", "y", "width", "height"), where)
            caption = normalize_phrase(region["phrase"])
            n_words = len(caption.split())
            if n_words == 0:
                counts["dropped_empty_phrase"] += 1
                continue
            if n_words > options.max_words:
                counts["dropped_long_phrase"] += 1
                continue
            xywh = [region["x"], region["y"], region["width"], region["height"]]
            box = clip_xyxy(xywh_to_xyxy(xywh), width, height)
            if box is None:
                counts["dropped_empty_box"] += 1
                continue
            region_id = region.get("region_id", region.get("id"))
            annotations.append(region_record(
                len(annotations) + 1, image_id, box, caption, {"region_id": region_id}))
    counts["kept_regions"] = len(annotations)
    log_counts(f"VG {split}", counts)
    if options.phrases:
        attach_phrases(annotations, desc=f"phrases {split}")
    return build_region_file(image_records, annotations, description=options.description,
                             image_root=options.image_root,
                             keep_empty_images=options.keep_empty_images)


def convert(region_descriptions: str | Path, image_data: str | Path, split_file: str | Path,
            out_dir: str | Path, *, splits: Sequence[str] | None = None,
            options: VGOptions = VGOptions()) -> dict[str, Path]:
    """Convert VG files into ``{out_dir}/{split}.json`` for each split.

    Args:
        region_descriptions, image_data, split_file: the raw input files (module docstring).
        out_dir: where to write.
        splits: which split-file keys to convert (default: all of them).
        options: see VGOptions.

    Returns:
        split -> written path.

    Raises:
        FileNotFoundError: naming a missing input.
        ConversionError: an input without the expected fields, or an unknown split.
    """
    for path, what in ((region_descriptions, "VG region_descriptions.json"),
                       (image_data, "VG image_data.json"), (split_file, "DenseCap split file")):
        require_file(path, what)  # report a missing input before the slow reads
    split_ids = load_json(split_file, "DenseCap split file")
    if not isinstance(split_ids, dict):
        raise ConversionError(f"split file {split_file}: expected {{split: [image ids]}}")
    wanted = list(splits) if splits else list(split_ids)
    unknown = [split for split in wanted if split not in split_ids]
    if unknown:
        raise ConversionError(f"split file {split_file} has no split(s) {unknown}; "
                              f"it has {sorted(split_ids)}")
    images = index_image_data(load_json(image_data, "VG image_data.json"))
    regions = index_regions(load_json(region_descriptions, "VG region_descriptions.json"))
    written = {}
    for split in wanted:
        data = convert_split(regions, images, split_ids[split], options, split)
        written[split] = write_region_file(data, Path(out_dir) / f"{split}.json")
    return written


def _read_coco_ids(path: str | None) -> frozenset[int]:
    if path is None:
        return frozenset()
    ids = load_json(path, "COCO id exclusion list")
    if not isinstance(ids, list):
        raise ConversionError(f"{path}: expected a JSON list of COCO image ids")
    return frozenset(int(i) for i in ids)


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m lavis_dynrefer.data.converters.vg",
        description="Visual Genome + DenseCap splits -> region annotation files {split}.json")
    parser.add_argument("--region-descriptions", required=True, help="region_descriptions.json")
    parser.add_argument("--image-data", required=True, help="image_data.json (image sizes)")
    parser.add_argument("--split-file", required=True,
                        help="densecap_splits.json ({split: [image ids]}), or VG-COCO's")
    parser.add_argument("--out-dir", required=True, help="writes {out-dir}/{split}.json")
    parser.add_argument("--splits", nargs="+", default=None,
                        help="split names to convert (default: every key of the split file)")
    parser.add_argument("--max-words", type=int, default=15,
                        help="drop phrases longer than this many words (default 15)")
    parser.add_argument("--file-name-format", default="{image_id}.jpg",
                        help="images[].file_name from the VG image id (default {image_id}.jpg)")
    parser.add_argument("--require-coco-id", action="store_true",
                        help="keep only images with a COCO id (VG-COCO)")
    parser.add_argument("--exclude-coco-ids", default=None,
                        help="JSON list of COCO image ids whose VG images are left out")
    parser.add_argument("--description", default="visual_genome",
                        help="dataset.description in the output (e.g. vg1.2, vgcoco)")
    add_common_arguments(parser, captions=True)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = build_parser()

    def run(args: argparse.Namespace) -> None:
        options = VGOptions(max_words=args.max_words, file_name_format=args.file_name_format,
                            require_coco_id=args.require_coco_id,
                            exclude_coco_ids=_read_coco_ids(args.exclude_coco_ids),
                            image_root=args.image_root, phrases=not args.no_phrases,
                            keep_empty_images=args.keep_empty_images,
                            description=args.description)
        convert(args.region_descriptions, args.image_data, args.split_file, args.out_dir,
                splits=args.splits, options=options)

    run_cli(parser, argv, run)


if __name__ == "__main__":
    main()
