"""Ground the shapes world's expressions in their images, GT boxes as candidates, and score it.

    python -m lavis_dynrefer.shapes.grounding_benchmark [--data data/shapes] [--split test]
        [--checkpoint FILE] [--threshold T | --choose-threshold] [--out results.json]

The expressions are ``shapes.grounding.grounding_split`` of the split (every GT caption with all
the objects it is true of; two expressions per image that refer to nothing). The candidates of
an image are its GT boxes (REC's two-stage "ground-truth proposals" protocol), every candidate
is scored against every expression by ``model.ground``'s SigLIP probability, and the result
is scored by ``evaluation.grounding`` (REC accuracy, Recall@k, zero/one/many). ``anchor`` is the
share of relation captions whose anchor phrase (``the small blue shape`` of ``the blue shape
above the small blue shape``, found by the grounded-caption noun-phrase parser) ranks its own
object first (a box at IoU >= 0.5 with it). ``--choose-threshold`` (on a
validation split) picks the matching rule with the best zero/one/many F1: the threshold from
0.05 to 0.95 and the relative threshold (a fraction of the text's best score) from 0 to 0.9.
``--candidates proposals`` grounds in the built-in proposals instead of the GT boxes.
``--proposal-recall`` instead measures the built-in proposals (``grounding.proposals``): the
share of GT objects with a proposal at IoU >= 0.5. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lavis_dynrefer.cli import CliError, check_out_folder, run_command
from lavis_dynrefer.data.annotations import load_region_annotations
from lavis_dynrefer.evaluation.grounding import any_hit, evaluate_grounding
from lavis_dynrefer.grounding.captions import noun_phrase_spans
from lavis_dynrefer.grounding.formats import grounded_record, parse_grounded, parse_grounding
from lavis_dynrefer.grounding.scores import matches, region_text_scores
from lavis_dynrefer.processors.image_io import load_image
from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor
from lavis_dynrefer.shapes.benchmark import (
    add_split_and_model_arguments,
    build_model,
    view_settings,
)
from lavis_dynrefer.shapes.grounding import grounding_split

THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))
RELATIVES = tuple(round(0.1 * k, 1) for k in range(10))


def anchor_text(caption: str) -> str | None:
    """``the small blue shape`` for ``the blue shape above the small blue shape``: the last
    noun phrase of a caption with two or more (``grounding.captions``, the grounded-caption
    path), None otherwise."""
    spans = noun_phrase_spans(caption)
    return spans[-1].text if len(spans) >= 2 else None


def score_split(model: Any, processor: MultiViewProcessor, split: dict[str, Any], root: Path,
                candidates: dict[int, list[list[float]]], max_images: int | None = None
                ) -> tuple[dict[int, tuple], list[bool]]:
    """Per expression id (the image's candidate boxes, their scores); per relation caption
    whether its anchor phrase ranks the anchor object first."""
    by_image: dict[int, list[dict]] = {}
    for expression in split["expressions"]:
        by_image.setdefault(expression["image_id"], []).append(expression)
    images = split["images"][:max_images] if max_images else split["images"]
    scored, anchors = {}, []
    for image in tqdm(images, desc="images", unit="image"):
        expressions = by_image.get(image["id"], [])
        boxes = candidates.get(image["id"], [])
        if not boxes or not expressions:
            continue
        views = processor(load_image(root / image["file_name"]), boxes)
        anchored = [(e, anchor_text(e["text"])) for e in expressions if e.get("anchor")]
        texts = [e["text"] for e in expressions] + [text for _, text in anchored]
        scores = region_text_scores(model, views.images, views.boxes, texts).numpy()
        for t, expression in enumerate(expressions):
            scored[expression["id"]] = (boxes, scores[:, t].tolist())
        for k, (expression, _) in enumerate(anchored):
            best = int(np.argmax(scores[:, len(expressions) + k]))
            anchors.append(any_hit([boxes[best]], [expression["anchor"]]))
    return scored, anchors


def metrics_at(split: dict[str, Any], scored: dict[int, tuple], threshold: float,
               relative: float = 0.0) -> dict[str, float]:
    records = [grounded_record(eid, boxes, scores, matches(scores, threshold, relative))
               for eid, (boxes, scores) in scored.items()]
    kept = {eid for eid in scored}
    gt = parse_grounding({**split, "expressions": [e for e in split["expressions"]
                                                   if e["id"] in kept]})
    return evaluate_grounding(gt, parse_grounded(records))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.shapes.grounding_benchmark",
                                     description=__doc__.splitlines()[0])
    add_split_and_model_arguments(parser)
    parser.add_argument("--threshold", type=float,
                        help="matching threshold (default: the model's grounding_threshold)")
    parser.add_argument("--relative", type=float,
                        help="relative threshold, a fraction of each text's best score "
                             "(default: the model's grounding_relative)")
    parser.add_argument("--choose-threshold", action="store_true",
                        help="report every threshold 0.05..0.95 x relative 0..0.9 and pick the "
                             "best F1")
    parser.add_argument("--seed", type=int, default=0, help="seed of the no-target expressions")
    parser.add_argument("--max-images", type=int, help="only the first N images")
    parser.add_argument("--out", help="write the result records here (JSON)")
    parser.add_argument("--candidates", choices=["gt", "proposals"], default="gt",
                        help="candidate boxes: the GT boxes (two-stage protocol) or the built-in "
                             "selective-search proposals")
    parser.add_argument("--proposal-recall", action="store_true",
                        help="instead: the recall at IoU 0.5 of the built-in selective-search "
                             "proposals against the split's GT boxes")
    return parser


def proposal_candidates(gt: Any, root: Path, max_images: int | None
                        ) -> dict[int, list[list[float]]]:
    """The built-in proposals of each image of the split (XYXY pixels)."""
    from lavis_dynrefer.grounding.proposals import propose_boxes

    images = gt.images[:max_images] if max_images else gt.images
    return {image.id: propose_boxes(load_image(root / image.file_name)).tolist()
            for image in tqdm(images, desc="proposals", unit="image")}


def proposal_recall_of_split(data: Path, split: str, max_images: int | None) -> str:
    """The built-in proposals' recall at IoU 0.5 on a shapes split, and boxes per image."""
    from lavis_dynrefer.grounding.proposals import proposal_recall

    gt = load_region_annotations(data / f"{split}_regions.json")
    found = proposal_candidates(gt, data / (gt.image_root or ""), max_images)
    by_image = gt.annotations_by_image
    proposals = [np.asarray(boxes, np.float32).reshape(-1, 4) for boxes in found.values()]
    targets = [np.array([a.bbox for a in by_image[image_id]], np.float32) for image_id in found]
    return json.dumps({"split": split, "images": len(found),
                       "objects": int(sum(len(t) for t in targets)),
                       "recall@0.5": proposal_recall(proposals, targets),
                       "boxes_per_image": float(np.mean([len(p) for p in proposals]))})


def run(args: argparse.Namespace) -> str:
    gt_path = Path(args.data) / f"{args.split}_regions.json"
    if not gt_path.is_file():
        raise CliError(f"{gt_path} not found: generate it with "
                       f"python -m lavis_dynrefer.shapes --out {args.data}")
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise CliError(f"--threshold {args.threshold}: must lie in (0, 1)")
    if args.relative is not None and not 0.0 <= args.relative <= 1.0:
        raise CliError(f"--relative {args.relative}: must lie in [0, 1]")
    if args.proposal_recall:
        return proposal_recall_of_split(Path(args.data), args.split, args.max_images)
    out = check_out_folder(args.out) if args.out else None
    torch.manual_seed(0)
    model = build_model(args.model_type, args.checkpoint)
    processor = MultiViewProcessor(MultiViewConfig(
        num_views=model.config.region.num_views, image_size=model.config.vision.image_size,
        **view_settings(args.model_type, "model", ())))
    gt = load_region_annotations(gt_path)
    split = grounding_split(gt, seed=args.seed)
    root = Path(gt_path).parent / (gt.image_root or "")
    if args.candidates == "proposals":
        candidates = proposal_candidates(gt, root, args.max_images)
    else:
        candidates = {image_id: [list(a.bbox) for a in regions]
                      for image_id, regions in gt.annotations_by_image.items()}
    scored, anchors = score_split(model, processor, split, root, candidates, args.max_images)
    threshold = model.config.grounding_threshold if args.threshold is None else args.threshold
    relative = model.config.grounding_relative if args.relative is None else args.relative
    summary: dict[str, Any] = {"checkpoint": args.checkpoint or "shipped", "split": args.split,
                               "candidates": {"gt": "GT boxes",
                                              "proposals": "built-in proposals"}[args.candidates]}
    if args.choose_threshold:
        rules = [(t, r) for t in THRESHOLDS for r in RELATIVES]
        sweep = {rule: metrics_at(split, scored, *rule) for rule in rules}
        # Ties: the threshold nearer 0.5, then the smaller relative threshold.
        threshold, relative = max(rules, key=lambda rule: (sweep[rule]["f1"],
                                                           -abs(rule[0] - 0.5), -rule[1]))
        summary["sweep"] = {f"{t} {r}": {k: sweep[t, r][k] for k in
                                         ("f1", "precision", "recall", "no_target_accuracy")}
                            for t, r in rules}
    metrics = metrics_at(split, scored, threshold, relative)
    if out:
        out.write_text(json.dumps([grounded_record(eid, b, s, matches(s, threshold, relative))
                                   for eid, (b, s) in scored.items()]))
    anchor = 100.0 * float(np.mean(anchors)) if anchors else float("nan")
    summary.update(threshold=threshold, relative=relative, anchor=anchor, anchors=len(anchors),
                   **metrics)
    return json.dumps(summary)


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
