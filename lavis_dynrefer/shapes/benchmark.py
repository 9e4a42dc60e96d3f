"""Score a DynRefer model on a shapes-world split for all four tasks at once.

    python -m lavis_dynrefer.shapes.benchmark [--data data/shapes] [--split test]
        [--checkpoint FILE] [--selection phash|random] [--out results.json]

One pass predicts every GT region of the split (caption, score, tags, attribute scores, class
logits: the model's ``labels`` give the shapes attributes and classes); the result file is then
scored by the project's metric functions for region captioning, dense captioning (on the GT
boxes, ranked by caption score), attribute detection and region recognition. The last stdout line
is one JSON object ``{"region_caption": {...}, "densecap": {...}, "ovad": {...},
"recognition": {...}}``. A runner checkpoint carries its model config (e.g. one view), so the
ablation models are rebuilt as they were trained.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from lavis_dynrefer.cli import CliError, check_out_folder, run_command
from lavis_dynrefer.data.annotations import RegionAnnotationFile, load_region_annotations
from lavis_dynrefer.datasets.region_dataset import RegionDataset
from lavis_dynrefer.evaluation import EVALUATORS, parse_results
from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor

logger = logging.getLogger("lavis_dynrefer.shapes.benchmark")

RESULT_KEYS = ("id", "image_id", "bbox", "caption", "score", "tags", "attr", "cls")


def build_model(model_type: str, checkpoint: str | None):
    """The model type's model; with a checkpoint, rebuilt from the config saved in it."""
    from lavis_dynrefer.models.checkpoint import load_any_checkpoint
    from lavis_dynrefer.models.checkpoint_io import read_checkpoint
    from lavis_dynrefer.models.dynrefer import DynReferModel

    cfg = OmegaConf.load(DynReferModel.default_config_path(model_type)).model
    if checkpoint:
        if not Path(checkpoint).is_file():
            raise CliError(f"--checkpoint {checkpoint}: no such file")
        saved = read_checkpoint(checkpoint)
        if isinstance(saved, dict) and isinstance(saved.get("config"), dict):
            cfg = OmegaConf.merge(cfg, saved["config"].get("model", {}))
        cfg.weights = {"checkpoint": None}
    model = DynReferModel.from_config(cfg)
    if checkpoint:
        load_any_checkpoint(model, checkpoint)
    return model.eval()


def predict(model, dataset: RegionDataset, batch_images: int) -> list[dict]:
    """Result records of every region of the dataset."""
    records = []
    for start in tqdm(range(0, len(dataset), batch_images), desc="images", unit="batch"):
        samples = dataset.collater([dataset[i] for i in
                                    range(start, min(start + batch_images, len(dataset)))])
        for prediction in model.predict_answers(samples):
            records.append({k: prediction[k] for k in RESULT_KEYS if k in prediction})
    return records


def score_all(gt: RegionAnnotationFile, records: list[dict]) -> dict[str, dict[str, float]]:
    """The four tasks' metrics of one result list."""
    results = parse_results(records, "predictions")
    tasks = ["region_caption", "densecap"]
    # Attribute and class scores exist only for models with labels (model.labels).
    tasks += [task for task, key in (("ovad", "attr"), ("recognition", "cls"))
              if records and all(key in r for r in records)]
    return {task: EVALUATORS[task](gt, results) for task in tasks}


def score_by_kind(gt: RegionAnnotationFile, records: list[dict]) -> dict[str, dict]:
    """Region-caption metrics on the regions of each caption kind (``extra_info.kind``): do the
    captions that need context outside the box fare worse than plain ones?"""
    kinds: dict[str, set[int]] = {}
    for annotation in gt.annotations:
        kinds.setdefault(str(annotation.extra_info.get("kind")), set()).add(annotation.id)
    scores = {}
    for kind, ids in sorted(kinds.items()):
        subset = dataclasses.replace(gt, annotations=tuple(a for a in gt.annotations
                                                           if a.id in ids))
        results = parse_results([r for r in records if r["id"] in ids], f"{kind} predictions")
        scores[kind] = {"regions": len(ids),
                        **EVALUATORS["region_caption"](subset, results)}
    return scores


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.shapes.benchmark",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/shapes", help="shapes-world folder")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--model-type", default="shapes")
    parser.add_argument("--checkpoint", help="weights to score (default: the shipped ones)")
    parser.add_argument("--selection", choices=["phash", "random"], default="phash",
                        help="how the extra views are chosen at inference")
    parser.add_argument("--seed", type=int, default=0, help="seed of --selection random")
    parser.add_argument("--tag-threshold", type=float,
                        help="tag threshold for control words (default: the model's)")
    parser.add_argument("--batch-images", type=int, default=8)
    parser.add_argument("--max-images", type=int, help="score only the first N images")
    parser.add_argument("--by-kind", action="store_true",
                        help="also score region captions per caption kind (plain, relation, "
                             "position, count, superlative)")
    parser.add_argument("--out", help="write the result records here (JSON)")
    return parser


def run(args: argparse.Namespace) -> str:
    gt_path = Path(args.data) / f"{args.split}_regions.json"
    if not gt_path.is_file():
        raise CliError(f"{gt_path} not found: generate it with "
                       f"python -m lavis_dynrefer.shapes --out {args.data}")
    out = check_out_folder(args.out) if args.out else None
    if args.tag_threshold is not None and not 0.0 < args.tag_threshold < 1.0:
        raise CliError(f"--tag-threshold {args.tag_threshold}: must lie in (0, 1)")
    torch.manual_seed(args.seed)
    model = build_model(args.model_type, args.checkpoint)
    if args.tag_threshold is not None:
        model.config = dataclasses.replace(model.config, tag_threshold=args.tag_threshold)
    processor = MultiViewProcessor(MultiViewConfig(
        mode="eval" if args.selection == "phash" else "train",
        num_views=model.config.region.num_views, image_size=model.config.vision.image_size,
        seed=args.seed))
    gt = load_region_annotations(gt_path)
    if args.max_images:
        keep = {image.id for image in gt.images[:args.max_images]}
        gt = dataclasses.replace(
            gt, images=gt.images[:args.max_images],
            annotations=tuple(a for a in gt.annotations if a.image_id in keep))
    root = Path(gt_path).parent / (gt.image_root or "")
    dataset = RegionDataset(gt, str(root), processor, level="image", annotation_path=str(gt_path))
    with torch.no_grad():
        records = predict(model, dataset, args.batch_images)
    if out:
        out.write_text(json.dumps(records))
    metrics = score_all(gt, records)
    if args.by_kind:
        metrics["region_caption_by_kind"] = score_by_kind(gt, records)
    summary = {"checkpoint": args.checkpoint or "shipped", "selection": args.selection,
               "num_views": model.config.region.num_views, "split": args.split,
               "tag_threshold": model.config.tag_threshold,
               "regions": len(records)}
    return json.dumps({**summary, **metrics})


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
