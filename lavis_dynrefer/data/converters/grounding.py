"""RefCOCO / RefCOCO+ / RefCOCOg, Ref-ZOM and Flickr30k Entities -> grounding files
(``grounding.formats``).

Two public layouts, by sub-command:

``refer``: the ``refer`` toolkit files of any of the three RefCOCO datasets, ``refs(unc).p``
  (RefCOCO, RefCOCO+) or ``refs(umd).p`` (RefCOCOg), with the COCO ``instances.json``. Every
  sentence of a ref is an expression (``kind: referring``) whose one target is the ref's
  annotation box; images keep their COCO ids and list every COCO box of the image as
  ``candidates`` (REC's "ground-truth proposals" protocol). Ref-ZOM (DMMI, ICCV 2023) ships
  the same layout with two differences, both read: ``ann_id`` may be a list (several
  targets) and ``source`` says ``zero`` (no target: ``targets`` is empty), ``one`` or
  ``many`` (``kind`` then is ``zero`` / ``one`` / ``many``). A pickle runs code when loaded:
  only convert files from a source you trust.
``mdetr``: MDETR's pre-processed files, one image entry per caption (``images[]``: ``id``,
  ``file_name``, ``width``, ``height``, ``caption``; ``annotations[]``: ``image_id``, ``bbox``
  (x, y, w, h), ``tokens_positive`` ([[start, end], ...] character spans of the caption)).
  ``--expressions caption`` (RefCOCO family, ``finetune_refcoco*_{split}.json``): the caption is
  the expression and every box of its entry a target. ``--expressions phrase`` (Flickr30k
  Entities, ``final_flickr_separateGT_{split}.json``): each distinct phrase of the caption (its
  ``tokens_positive`` spans) is an expression, its boxes the targets, ``span`` its characters;
  as MDETR's any-box protocol scores them (Recall@k).

Boxes become XYXY clipped to the image; a box empty after clipping is dropped, an expression
left without its only target too (counted in the log).

Usage:
    python -m lavis_dynrefer.data.converters.grounding refer --refs "refs(unc).p" \\
        --instances instances.json --out-dir data/refcoco_grounding [--splits val testA testB]
    python -m lavis_dynrefer.data.converters.grounding mdetr --files finetune_refcoco_val.json \\
        --expressions caption --out-dir data/refcoco_grounding
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lavis_dynrefer.data.converters.common import (
    ConversionError,
    clip_xyxy,
    load_json,
    log_counts,
    require_file,
    require_keys,
    run_cli,
    xywh_to_xyxy,
)
from lavis_dynrefer.data.converters.refcocog import load_refs, refs_by_split
from lavis_dynrefer.grounding.formats import parse_grounding

logger = logging.getLogger(__name__)


def _image(image: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": image["id"], "file_name": image["file_name"], "width": image["width"],
            "height": image["height"]}


def _finish(images: dict[int, dict], expressions: list[dict], title: str,
            counts: Counter) -> dict[str, Any]:
    counts["expressions"] = len(expressions)
    log_counts(title, counts)
    used = {e["image_id"] for e in expressions}
    data = {"images": [images[i] for i in sorted(used)], "expressions": expressions}
    parse_grounding(data, title)  # what is written is a valid grounding file
    return data


def _ref_targets(ref: Mapping[str, Any], images: Mapping[int, dict], anns: Mapping[int, Any],
                 counts: Counter) -> list | None:
    """The XYXY boxes a ref refers to: its ``ann_id`` (a list of them in Ref-ZOM), none for a
    Ref-ZOM ``source: zero`` ref; None when a box is empty after clipping (ref dropped)."""
    image = images.get(ref["image_id"])
    if image is None:
        raise ConversionError(f"ref {ref['ref_id']}: image {ref['image_id']} is not in "
                              "instances.json")
    if ref.get("source") == "zero":
        return []
    ann_ids = ref["ann_id"] if isinstance(ref["ann_id"], list) else [ref["ann_id"]]
    targets = []
    for ann_id in ann_ids:
        ann = anns.get(ann_id)
        if ann is None:
            raise ConversionError(f"ref {ref['ref_id']}: annotation {ann_id} is not in "
                                  "instances.json")
        box = clip_xyxy(xywh_to_xyxy(ann["bbox"]), image["width"], image["height"])
        if box is None:
            counts["dropped_empty_box"] += len(ref["sentences"])
            return None
        targets.append(box)
    return targets


def convert_refer(refs: Sequence[Mapping[str, Any]], instances: Mapping[str, Any],
                  splits: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """split -> grounding file of the ``refer`` layout (module docstring)."""
    require_keys(instances, ("images", "annotations"), "instances.json")
    coco_images = {image["id"]: _image(image) for image in instances["images"]}
    coco_anns = {ann["id"]: ann for ann in instances["annotations"]}
    anns_by_image: dict[int, list] = defaultdict(list)
    for ann in instances["annotations"]:
        anns_by_image[ann["image_id"]].append(ann)
    out = {}
    for split, split_refs in refs_by_split(refs, splits).items():
        counts: Counter = Counter()
        expressions: list[dict] = []
        for ref in split_refs:
            targets = _ref_targets(ref, coco_images, coco_anns, counts)
            if targets is None:
                continue
            # Ref-ZOM marks its refs "zero", "one" or "many" (``source``); the others refer to
            # one object.
            kind = ("referring" if "source" not in ref else
                    "zero" if not targets else "one" if len(targets) == 1 else "many")
            for sentence in ref["sentences"]:
                text = " ".join(str(sentence.get("sent", "")).split())
                if not text:
                    counts["dropped_empty_expression"] += 1
                    continue
                expressions.append({"id": len(expressions) + 1, "image_id": ref["image_id"],
                                    "text": text, "targets": targets, "kind": kind,
                                    "ref_id": ref["ref_id"], "sent_id": sentence.get("sent_id"),
                                    "ann_id": ref["ann_id"]})
        out[split] = _finish(coco_images, expressions, f"refer {split}", counts)
        for image in out[split]["images"]:  # every GT box of the image: REC's GT proposals
            boxes = (clip_xyxy(xywh_to_xyxy(a["bbox"]), image["width"], image["height"])
                     for a in anns_by_image.get(image["id"], []))
            image["candidates"] = [box for box in boxes if box is not None]
    return out


def convert_mdetr(data: Mapping[str, Any], expressions: str = "caption",
                  title: str = "MDETR") -> dict[str, Any]:
    """The grounding file of one MDETR file (module docstring)."""
    if expressions not in ("caption", "phrase"):
        raise ConversionError(f"expressions must be 'caption' or 'phrase', got {expressions!r}")
    require_keys(data, ("images", "annotations"), title)
    images, boxes = {}, defaultdict(list)
    for position, image in enumerate(data["images"]):
        require_keys(image, ("id", "file_name", "width", "height", "caption"),
                     f"{title} image {position}")
        images[image["id"]] = image
    counts: Counter = Counter()
    for position, ann in enumerate(data["annotations"]):
        require_keys(ann, ("image_id", "bbox"), f"{title} annotation {position}")
        image = images.get(ann["image_id"])
        if image is None:
            raise ConversionError(f"{title} annotation {position}: unknown image id "
                                  f"{ann['image_id']}")
        box = clip_xyxy(xywh_to_xyxy(ann["bbox"]), image["width"], image["height"])
        if box is None:
            counts["dropped_empty_box"] += 1
            continue
        spans = tuple(tuple(span) for span in ann.get("tokens_positive", []))
        boxes[ann["image_id"]].append((spans, box))
    out: list[dict] = []
    for image_id, image in images.items():
        caption = str(image["caption"])
        if expressions == "caption":
            targets = [box for _, box in boxes[image_id]]
            if not targets:
                counts["dropped_without_target"] += 1
                continue
            out.append({"id": len(out) + 1, "image_id": image_id,
                        "text": " ".join(caption.split()), "targets": targets,
                        "kind": "referring" if len(targets) == 1 else "many"})
            continue
        phrases: dict[tuple, list] = defaultdict(list)
        for spans, box in boxes[image_id]:
            if not spans:
                counts["dropped_box_without_phrase"] += 1
                continue
            phrases[spans].append(box)
        for spans, targets in sorted(phrases.items()):
            if any(not 0 <= s < e <= len(caption) for s, e in spans):
                raise ConversionError(f"{title} image {image_id}: tokens_positive {list(spans)} "
                                      f"outside its caption of {len(caption)} characters")
            text = " ".join(caption[s:e] for s, e in spans)
            out.append({"id": len(out) + 1, "image_id": image_id, "text": text,
                        "targets": targets, "kind": "phrase", "caption": caption,
                        "span": [list(span) for span in spans]})
    return _finish({i: _image(image) for i, image in images.items()}, out, title, counts)


def _write(data: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    logger.info("wrote %s (%d expressions)", path, len(data["expressions"]))
    return path


def build_parser() -> argparse.ArgumentParser:
    from lavis_dynrefer.cli import add_log_level_argument

    parser = argparse.ArgumentParser(
        prog="python -m lavis_dynrefer.data.converters.grounding",
        description="RefCOCO/+/g and Flickr30k Entities -> grounding files")
    sub = parser.add_subparsers(dest="layout", required=True)
    refer = sub.add_parser("refer", help="refs(unc|umd).p + instances.json (refer toolkit)")
    refer.add_argument("--refs", required=True)
    refer.add_argument("--instances", required=True)
    refer.add_argument("--splits", nargs="+", default=None)
    mdetr = sub.add_parser("mdetr", help="MDETR pre-processed files")
    mdetr.add_argument("--files", nargs="+", required=True,
                       help="MDETR json files; each writes <out-dir>/<its name>")
    mdetr.add_argument("--expressions", choices=["caption", "phrase"], default="caption")
    for layout in (refer, mdetr):
        layout.add_argument("--out-dir", required=True)
        add_log_level_argument(layout)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    def run(args: argparse.Namespace) -> None:
        out = Path(args.out_dir)
        if args.layout == "refer":
            require_file(args.refs, "refs pickle")
            files = convert_refer(load_refs(args.refs),
                                  load_json(args.instances, "COCO instances.json"), args.splits)
            for split, data in files.items():
                _write(data, out / f"{split}.json")
        else:
            for file in args.files:
                data = load_json(file, "MDETR file")
                _write(convert_mdetr(data, args.expressions, Path(file).name),
                       out / Path(file).name)

    run_cli(build_parser(), argv, run)


if __name__ == "__main__":
    main()
