"""RefCOCOg (umd split) -> region annotation files, one annotation per referring expression.

Two public layouts are read, by sub-command:

``refer``: the ``refer`` toolkit files.
  - ``refs(umd).p``: a pickled list of refs ``{"ref_id", "ann_id", "image_id", "split",
    "category_id", "sentences": [{"sent", "sent_id", "raw", "tokens"}]}``. A pickle runs code
    when loaded: only convert files from a source you trust.
  - ``instances.json``: COCO instances (train2014 images); ``images`` give ``file_name``, width,
    height; ``annotations`` give the (x, y, w, h) ``bbox`` of each ``ann_id``.
  Each sentence becomes its own image entry (id = annotation id = 1..N per split, in refs
  order) holding one region, as in MDETR's files and the release: region captioning is scored
  with one region per image id (method.md section 6). The COCO ids go to ``extra_info``.

``mdetr``: MDETR's ``finetune_refcocog_{split}.json`` (COCO layout, one image per expression).
  Fields read: ``images[]``: ``id``, ``file_name``, ``width``, ``height``, ``caption`` (the
  expression), optional ``original_id`` (COCO image id) and ``sentence_id``;
  ``annotations[]``: ``id``, ``image_id``, ``bbox`` (x, y, w, h), optional ``category_id`` and
  ``original_id`` (COCO annotation id). ``tokens_positive``/``tokens_negative`` are not used. The
  MDETR image and annotation ids are kept, so results line up with other tools' MDETR files.

Captions are the toolkit's ``sent`` (already lower-case and tokenized) with whitespace collapsed;
boxes become XYXY clipped to the image, and a box empty after clipping is dropped.

Usage:
    python -m lavis_dynrefer.data.converters.refcocog refer --refs "refs(umd).p" \
        --instances instances.json --image-root data/coco/train2014 --out-dir data/refcocog
    python -m lavis_dynrefer.data.converters.refcocog mdetr --mdetr-dir mdetr_annotations \
        --image-root data/coco/train2014 --out-dir data/refcocog
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import pickle
from collections import Counter, defaultdict
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

MDETR_PATTERN = "finetune_refcocog_{split}.json"


@dataclasses.dataclass(frozen=True)
class RefOptions:
    """Output options shared by both layouts (see common.build_region_file)."""

    image_root: str | None = None
    phrases: bool = True
    keep_empty_images: bool = False
    description: str = "refcocog_umd"


def _caption(text: Any) -> str:
    return " ".join(str(text).split())


def _finish(images: list[dict], annotations: list[dict], options: RefOptions, split: str,
            counts: Counter) -> dict[str, Any]:
    counts["kept_expressions"] = len(annotations)
    log_counts(f"RefCOCOg {split}", counts)
    if options.phrases:
        attach_phrases(annotations, desc=f"phrases {split}")
    return build_region_file(images, annotations, description=options.description,
                             image_root=options.image_root,
                             keep_empty_images=options.keep_empty_images)


# ---- refer toolkit layout --------------------------------------------------------------------


def load_refs(path: str | Path) -> list[Mapping[str, Any]]:
    """Unpickle ``refs(umd).p`` (trusted input only) and check it is a list of refs."""
    path = require_file(path, "RefCOCOg refs pickle")
    logger.info("reading refs: %s", path)
    with path.open("rb") as file:
        refs = pickle.load(file)  # the toolkit's own format; trusted input, see above
    if not isinstance(refs, list):
        raise ConversionError(f"{path}: expected a pickled list of refs, got {type(refs)}")
    return refs


def refs_by_split(refs: Sequence[Mapping[str, Any]], splits: Sequence[str] | None = None
                  ) -> dict[str, list[Mapping[str, Any]]]:
    """The refs of each wanted split (default: every split they name, sorted), each ref checked
    for the toolkit's keys.

    Raises:
        ConversionError: a ref lacking a key, or a wanted split the refs do not have.
    """
    by_split: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for position, ref in enumerate(refs):
        require_keys(ref, ("ref_id", "ann_id", "image_id", "split", "sentences"),
                     f"ref {position}")
        by_split[ref["split"]].append(ref)
    wanted = list(splits) if splits else sorted(by_split)
    unknown = [split for split in wanted if split not in by_split]
    if unknown:
        raise ConversionError(f"refs have no split(s) {unknown}; they have {sorted(by_split)}")
    return {split: by_split[split] for split in wanted}


def convert_refer(refs: Sequence[Mapping[str, Any]], instances: Mapping[str, Any],
                  options: RefOptions = RefOptions(), splits: Sequence[str] | None = None
                  ) -> dict[str, dict[str, Any]]:
    """Build region files from refs and COCO instances, one per split.

    Args:
        refs: the unpickled ``refs(umd).p``.
        instances: the loaded ``instances.json``.
        options: see RefOptions.
        splits: which splits to build (default: every split the refs name, sorted).

    Returns:
        split -> region annotation file dict.
    """
    require_keys(instances, ("images", "annotations"), "instances.json")
    coco_images = {image["id"]: image for image in instances["images"]}
    coco_anns = {ann["id"]: ann for ann in instances["annotations"]}
    out = {}
    for split, split_refs in refs_by_split(refs, splits).items():
        counts: Counter = Counter()
        images, annotations = [], []
        for ref in tqdm(split_refs, desc=f"RefCOCOg {split}", unit="ref"):
            image = coco_images.get(ref["image_id"])
            ann = coco_anns.get(ref["ann_id"])
            if image is None or ann is None:
                raise ConversionError(f"ref {ref['ref_id']}: image {ref['image_id']} or "
                                      f"annotation {ref['ann_id']} is not in instances.json")
            box = clip_xyxy(xywh_to_xyxy(ann["bbox"]), image["width"], image["height"])
            if box is None:
                counts["dropped_empty_box"] += len(ref["sentences"])
                continue
            for sentence in ref["sentences"]:
                caption = _caption(sentence.get("sent", ""))
                if not caption:
                    counts["dropped_empty_expression"] += 1
                    continue
                new_id = len(annotations) + 1
                images.append(image_record(new_id, image["file_name"], image["width"],
                                           image["height"]))
                extra = {"ref_id": ref["ref_id"], "sent_id": sentence.get("sent_id"),
                         "coco_image_id": ref["image_id"], "coco_ann_id": ref["ann_id"],
                         "coco_category_id": ref.get("category_id", ann.get("category_id"))}
                annotations.append(region_record(new_id, new_id, box, caption, extra))
        out[split] = _finish(images, annotations, options, split, counts)
    return out


# ---- MDETR layout ----------------------------------------------------------------------------


def convert_mdetr(data: Mapping[str, Any], options: RefOptions = RefOptions(),
                  split: str = "") -> dict[str, Any]:
    """Build one region file from a loaded MDETR ``finetune_refcocog_{split}.json``."""
    require_keys(data, ("images", "annotations"), f"MDETR {split} file")
    counts: Counter = Counter()
    images, image_by_id = [], {}
    for position, image in enumerate(data["images"]):
        require_keys(image, ("id", "file_name", "width", "height", "caption"),
                     f"MDETR {split} image {position}")
        image_by_id[image["id"]] = image
        images.append(image_record(image["id"], image["file_name"], image["width"],
                                   image["height"]))
    annotations = []
    for position, ann in enumerate(tqdm(data["annotations"], desc=f"MDETR {split}", unit="ann")):
        require_keys(ann, ("id", "image_id", "bbox"), f"MDETR {split} annotation {position}")
        image = image_by_id.get(ann["image_id"])
        if image is None:
            raise ConversionError(f"MDETR {split} annotation {ann['id']}: unknown image id "
                                  f"{ann['image_id']}")
        caption = _caption(image["caption"])
        box = clip_xyxy(xywh_to_xyxy(ann["bbox"]), image["width"], image["height"])
        if box is None or not caption:
            counts["dropped_empty_box" if box is None else "dropped_empty_expression"] += 1
            continue
        extra = {"coco_image_id": image.get("original_id"), "coco_ann_id": ann.get("original_id"),
                 "coco_category_id": ann.get("category_id"),
                 "sent_id": image.get("sentence_id")}
        annotations.append(region_record(ann["id"], ann["image_id"], box, caption, extra))
    return _finish(images, annotations, options, split, counts)


# ---- writing and command line ----------------------------------------------------------------


def convert_refer_files(refs: str | Path, instances: str | Path, out_dir: str | Path, *,
                        splits: Sequence[str] | None = None,
                        options: RefOptions = RefOptions()) -> dict[str, Path]:
    """``refer`` layout files -> ``{out_dir}/{split}.json``; returns split -> path."""
    require_file(refs, "RefCOCOg refs pickle")
    require_file(instances, "COCO instances.json")
    files = convert_refer(load_refs(refs), load_json(instances, "COCO instances.json"),
                          options, splits)
    return {split: write_region_file(data, Path(out_dir) / f"{split}.json")
            for split, data in files.items()}


def convert_mdetr_files(mdetr_dir: str | Path, out_dir: str | Path, *,
                        splits: Sequence[str] = ("train", "val", "test"),
                        pattern: str = MDETR_PATTERN,
                        options: RefOptions = RefOptions()) -> dict[str, Path]:
    """MDETR ``{mdetr_dir}/{pattern}`` files -> ``{out_dir}/{split}.json``."""
    paths = {split: Path(mdetr_dir) / pattern.format(split=split) for split in splits}
    for split, path in paths.items():
        require_file(path, f"MDETR RefCOCOg {split} file")
    return {split: write_region_file(
                convert_mdetr(load_json(path, f"MDETR RefCOCOg {split} file"), options, split),
                Path(out_dir) / f"{split}.json")
            for split, path in paths.items()}


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments: one sub-command per input layout."""
    parser = argparse.ArgumentParser(
        prog="python -m lavis_dynrefer.data.converters.refcocog",
        description="RefCOCOg (umd) -> region annotation files {split}.json")
    sub = parser.add_subparsers(dest="layout", required=True)
    refer = sub.add_parser("refer", help="refs(umd).p + instances.json (refer toolkit)")
    refer.add_argument("--refs", required=True, help="refs(umd).p")
    refer.add_argument("--instances", required=True, help="instances.json (COCO train2014)")
    refer.add_argument("--splits", nargs="+", default=None,
                       help="splits to convert (default: all in the refs)")
    mdetr = sub.add_parser("mdetr", help="MDETR finetune_refcocog_{split}.json files")
    mdetr.add_argument("--mdetr-dir", required=True, help="folder with the MDETR files")
    mdetr.add_argument("--splits", nargs="+", default=["train", "val", "test"])
    mdetr.add_argument("--pattern", default=MDETR_PATTERN,
                       help=f"file name per split (default {MDETR_PATTERN})")
    for layout in (refer, mdetr):
        layout.add_argument("--out-dir", required=True, help="writes {out-dir}/{split}.json")
        layout.add_argument("--description", default="refcocog_umd",
                            help="dataset.description in the output")
        add_common_arguments(layout, captions=True)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = build_parser()

    def run(args: argparse.Namespace) -> None:
        options = RefOptions(image_root=args.image_root, phrases=not args.no_phrases,
                             keep_empty_images=args.keep_empty_images,
                             description=args.description)
        if args.layout == "refer":
            convert_refer_files(args.refs, args.instances, args.out_dir, splits=args.splits,
                                options=options)
        else:
            convert_mdetr_files(args.mdetr_dir, args.out_dir, splits=args.splits,
                                pattern=args.pattern, options=options)

    run_cli(parser, argv, run)


if __name__ == "__main__":
    main()
