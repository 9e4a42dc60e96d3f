"""What every converter shares: input checks, box arithmetic, the output file, the CLI frame.

The output is the region annotation file of data-and-metrics.md section 1: ``images`` (id,
file_name, width, height), ``annotations`` (id, image_id, XYXY ``bbox``, ``caption``, optional
``category_id`` / ``att_vec``, ``extra_info``), optional ``categories`` / ``attributes`` and
``dataset`` (with ``image_root`` when given). ``build_region_file`` checks the invariants
(unique ids, known image ids, x2 > x1 and y2 > y1) so that no converter can write a broken file.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lavis_dynrefer.atomic_files import replaced_atomically
from lavis_dynrefer.cli import add_log_level_argument, configure_logging
from lavis_dynrefer.data.phrases import parse_phrases

logger = logging.getLogger(__name__)

Box = list[float]


class ConversionError(ValueError):
    """The raw input does not have the layout a converter expects."""


# ---- inputs ----------------------------------------------------------------------------------


def require_file(path: str | Path, what: str) -> Path:
    """Return ``path`` as a Path, or raise FileNotFoundError naming ``what`` and the path."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def load_json(path: str | Path, what: str) -> Any:
    """Load a JSON input file; errors name ``what`` and the path."""
    path = require_file(path, what)
    logger.info("reading %s: %s", what, path)
    try:
        with path.open(encoding="utf-8") as file:
            return json.load(file)
    except json.JSONDecodeError as err:
        raise ConversionError(f"{what} {path} is not valid JSON: {err}") from None


def require_keys(record: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    """Raise ConversionError naming ``where`` when ``record`` lacks one of ``keys``."""
    missing = [key for key in keys if key not in record]
    if missing:
        raise ConversionError(f"{where}: missing field(s) {missing} in {dict(record)!r:.200}")


# ---- boxes -----------------------------------------------------------------------------------


def _tidy(value: float) -> float:
    # x + w in binary floating point leaves noise (473.07 + 395.93 = 869.0000000000001);
    # six decimals is far below a pixel and keeps integer inputs integers.
    return round(value, 6)


def xywh_to_xyxy(box: Sequence[float]) -> Box:
    """(x, y, w, h) -> (x1, y1, x2, y2), both in pixels.

    >>> xywh_to_xyxy([10, 20, 30, 40])
    [10, 20, 40, 60]
    """
    if len(box) != 4:
        raise ConversionError(f"expected an (x, y, w, h) box, got {box!r}")
    x, y, w, h = box
    return [_tidy(x), _tidy(y), _tidy(x + w), _tidy(y + h)]


def clip_xyxy(box: Sequence[float], width: float, height: float) -> Box | None:
    """Clip an XYXY box to the image [0, W] x [0, H]; None when nothing is left.

    >>> clip_xyxy([-5, 10, 120, 30], 100, 50)
    [0, 10, 100, 30]
    >>> clip_xyxy([100, 10, 120, 30], 100, 50) is None
    True
    """
    x1, y1, x2, y2 = box
    clipped = [min(max(x1, 0), width), min(max(y1, 0), height),
               min(max(x2, 0), width), min(max(y2, 0), height)]
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        return None
    return clipped


# ---- records and the output file -----------------------------------------------------------


def image_record(image_id: int, file_name: str, width: int, height: int) -> dict[str, Any]:
    """One ``images`` entry."""
    return {"id": int(image_id), "file_name": str(file_name),
            "width": int(width), "height": int(height)}


def region_record(ann_id: int, image_id: int, bbox: Box, caption: str = "",
                  extra_info: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """One ``annotations`` entry; ``fields`` adds ``category_id`` or ``att_vec``."""
    return {"id": int(ann_id), "image_id": int(image_id), "bbox": list(bbox),
            "caption": caption, **fields, "extra_info": dict(extra_info or {})}


def build_region_file(images: Sequence[Mapping[str, Any]],
                      annotations: Sequence[Mapping[str, Any]], *,
                      description: str,
                      image_root: str | None = None,
                      categories: Sequence[Mapping[str, Any]] | None = None,
                      attributes: Sequence[Mapping[str, Any]] | None = None,
                      keep_empty_images: bool = False) -> dict[str, Any]:
    """Assemble and check one region annotation file.

    Args:
        images: ``image_record`` dicts.
        annotations: ``region_record`` dicts.
        description: the source, stored as ``dataset.description``.
        image_root: stored as ``dataset.image_root`` when given.
        categories / attributes: stored when given.
        keep_empty_images: keep images without annotations (dropped by default, as the release
            does; training iterates images, evaluation iterates annotations).

    Raises:
        ConversionError: a duplicate image or annotation id, an annotation on an unknown image,
            or a box that is not XYXY with positive size.
    """
    image_ids: set[int] = set()
    for image in images:
        if image["id"] in image_ids:
            raise ConversionError(f"duplicate image id {image['id']}")
        image_ids.add(image["id"])
    ann_ids: set[int] = set()
    used_images: set[int] = set()
    for ann in annotations:
        if ann["id"] in ann_ids:
            raise ConversionError(f"duplicate annotation id {ann['id']}")
        ann_ids.add(ann["id"])
        if ann["image_id"] not in image_ids:
            raise ConversionError(f"annotation {ann['id']}: unknown image id {ann['image_id']}")
        x1, y1, x2, y2 = ann["bbox"]
        if not (x2 > x1 and y2 > y1):
            raise ConversionError(f"annotation {ann['id']}: box {ann['bbox']} is not XYXY > 0")
        used_images.add(ann["image_id"])
    kept = [dict(image) for image in images if keep_empty_images or image["id"] in used_images]
    if len(kept) < len(images):
        logger.info("dropped %d image(s) without annotations", len(images) - len(kept))
    dataset: dict[str, Any] = {"description": description}
    if image_root is not None:
        dataset["image_root"] = str(image_root)
    out: dict[str, Any] = {"dataset": dataset, "images": kept,
                           "annotations": [dict(ann) for ann in annotations]}
    if categories is not None:
        out["categories"] = [dict(category) for category in categories]
    if attributes is not None:
        out["attributes"] = [dict(attribute) for attribute in attributes]
    return out


def write_region_file(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write a region annotation file atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as tmp, tmp.open("w", encoding="utf-8") as file:
        json.dump(data, file, separators=(",", ":"))
    logger.info("wrote %s: %d images, %d annotations", path, len(data["images"]),
                len(data["annotations"]))
    return path


def attach_phrases(annotations: Sequence[dict[str, Any]], desc: str = "parsing phrases") -> None:
    """Store the parsed phrases of each non-empty caption in ``extra_info["phrases"]``."""
    for ann in tqdm(annotations, desc=desc, unit="caption"):
        if ann["caption"]:
            ann["extra_info"]["phrases"] = parse_phrases(ann["caption"])


def log_counts(title: str, counts: Counter) -> None:
    """Log what a conversion kept and dropped, one line."""
    summary = ", ".join(f"{key}={value}" for key, value in sorted(counts.items()))
    logger.info("%s: %s", title, summary or "nothing")


# ---- command line ------------------------------------------------------------------------------


def add_common_arguments(parser: argparse.ArgumentParser, *, captions: bool) -> None:
    """Arguments every converter takes: image root, empty images, logging (and phrase parsing)."""
    parser.add_argument("--image-root", default=None,
                        help="image folder, stored as dataset.image_root in the output")
    parser.add_argument("--keep-empty-images", action="store_true",
                        help="keep images left without annotations (default: drop them)")
    if captions:
        parser.add_argument("--no-phrases", action="store_true",
                            help="skip parsing noun/adjective phrases into extra_info.phrases")
    add_log_level_argument(parser)


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None,
            convert: Callable[[argparse.Namespace], Any]) -> None:
    """Parse arguments, set up logging, run ``convert``; input errors exit 2 with the message."""
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        convert(args)
    except (FileNotFoundError, ConversionError) as err:
        parser.error(str(err))


def single_file_command(convert: Callable[..., Mapping[str, Any]], *, what: str, prog: str,
                        description: str, input_flag: str, input_help: str
                        ) -> tuple[Callable[..., Path], Callable[[], argparse.ArgumentParser],
                                   Callable[[Sequence[str] | None], None]]:
    """``convert_file``, ``build_parser`` and ``main`` of a converter that turns one raw JSON
    file into one region annotation file (COCO, OVAD).

    Args:
        convert: ``convert(data, image_root=..., keep_empty_images=...)`` -> region file dict.
        what: how the input is named in errors (e.g. "COCO instances file").
        prog, description: the command's name and one-line description.
        input_flag, input_help: the input argument (e.g. ``--instances``) and its help.
    """

    def convert_file(source: str | Path, out: str | Path, *, image_root: str | None = None,
                     keep_empty_images: bool = False) -> Path:
        data = load_json(source, what)
        return write_region_file(
            convert(data, image_root=image_root, keep_empty_images=keep_empty_images), out)

    def build_parser() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=prog, description=description)
        parser.add_argument(input_flag, dest="source", required=True, help=input_help,
                            metavar=input_flag.lstrip("-").upper())
        parser.add_argument("--out", required=True, help="output region annotation file")
        add_common_arguments(parser, captions=False)
        return parser

    def main(argv: Sequence[str] | None = None) -> None:
        run_cli(build_parser(), argv, lambda args: convert_file(
            args.source, args.out, image_root=args.image_root,
            keep_empty_images=args.keep_empty_images))

    convert_file.__doc__ = f"{input_help} -> region annotation file at ``out``."
    return convert_file, build_parser, main
