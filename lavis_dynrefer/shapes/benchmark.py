"""Score a DynRefer model on a shapes-world split for all four tasks at once.

    python -m lavis_dynrefer.shapes.benchmark [--data data/shapes] [--split test]
        [--checkpoint FILE] [--selection model|phash|random|fixed] [--out results.json]

One pass predicts every GT region of the split (caption, score, tags, attribute scores, class
logits: the model's ``labels`` give the shapes attributes and classes); the result file is then
scored by the project's metric functions for region captioning, dense captioning (on the GT
boxes, ranked by caption score), attribute detection and region recognition, and by the shapes
world's own checks: caption truth (``shapes.truth``: true / referring, per kind of caption
written) and tag mAP against each region's own tags. The last stdout line is one JSON object
``{"region_caption": {...}, "densecap": {...}, "ovad": {...}, "recognition": {...},
"truth": {...}, "tags": {...}, "resampler": {...}}`` (the last: the Q-Former's normalised
cross-attention entropy and the mean cosine between regions' tokens, ``models.diagnostics``).
A runner checkpoint carries its model config (e.g. one view), so the ablation models are
rebuilt as they were trained.
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
from lavis_dynrefer.evaluation.tagging import tag_map
from lavis_dynrefer.models.diagnostics import watch_resampler
from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor
from lavis_dynrefer.shapes.truth import caption_truth

logger = logging.getLogger("lavis_dynrefer.shapes.benchmark")

RESULT_KEYS = ("id", "image_id", "bbox", "caption", "score", "tags", "attr", "cls")
#: ``--selection`` -> the processor mode that selects views that way.
SELECTION_MODES = {"phash": "eval", "random": "train", "fixed": "fixed"}


def build_model(model_type: str, checkpoint: str | None):
    """The model type's model; with a checkpoint, rebuilt as it was trained
    (``weights.rebuild``: its saved config, the pretrained files it names, then the file)."""
    from lavis_dynrefer.models.dynrefer import DynReferModel
    from lavis_dynrefer.weights.checkpoint_io import read_checkpoint
    from lavis_dynrefer.weights.rebuild import rebuild_model

    if not checkpoint:
        return DynReferModel.from_config(
            OmegaConf.load(DynReferModel.default_config_path(model_type)).model).eval()
    if not Path(checkpoint).is_file():
        raise CliError(f"--checkpoint {checkpoint}: no such file")
    model, _ = rebuild_model(read_checkpoint(checkpoint), checkpoint, model_type)
    return model.eval()


def view_settings(model_type: str, selection: str, fixed_ts: Sequence[float]) -> dict:
    """``MultiViewConfig`` fields for ``--selection``: ``model`` takes the mode (and fixed
    candidates) of the model type's eval processor (its yaml's ``preprocess``)."""
    if selection == "model":
        from lavis_dynrefer.models.dynrefer import DynReferModel

        yaml = OmegaConf.load(DynReferModel.default_config_path(model_type))
        processor = OmegaConf.select(yaml, "preprocess.vis_processor.eval") or {}
        settings = {"mode": processor.get("mode", "eval")}
        if settings["mode"] == "fixed":
            settings["candidates"] = tuple(processor.candidates)
        return settings
    mode = SELECTION_MODES[selection]
    return {"mode": mode, **({"candidates": tuple(fixed_ts)} if mode == "fixed" else {})}


def selection_name(views: dict) -> str:
    """How ``view_settings`` chose the views, as the summary names it: ``phash``, ``random``
    or ``fixed [t, ...]``."""
    if views["mode"] == "fixed":
        return f"fixed {list(views['candidates'])}"
    return {mode: name for name, mode in SELECTION_MODES.items()}[views["mode"]]


def predict(model, dataset: RegionDataset, batch_images: int) -> list[dict]:
    """Result records of every region of the dataset, with every tag's probability
    (``tag_probs``) besides the result format's fields."""
    records = []
    for start in tqdm(range(0, len(dataset), batch_images), desc="images", unit="batch"):
        samples = dataset.collater([dataset[i] for i in
                                    range(start, min(start + batch_images, len(dataset)))])
        for prediction in model.predict_answers(samples, all_tag_scores=True):
            records.append({k: prediction[k] for k in (*RESULT_KEYS, "tag_probs")
                            if k in prediction})
    return records


def score_all(gt: RegionAnnotationFile, records: list[dict],
              tag_names: Sequence[str] = ()) -> dict[str, dict[str, float]]:
    """The four tasks' metrics of one result list, caption truth, and (with ``tag_names`` and
    records carrying ``tag_probs``) tag mAP against each region's ``extra_info.tags``."""
    results = parse_results(records, "predictions")
    tasks = ["region_caption", "densecap"]
    # Attribute and class scores exist only for models with labels (model.labels).
    tasks += [task for task, key in (("ovad", "attr"), ("recognition", "cls"))
              if records and all(key in r for r in records)]
    metrics: dict[str, dict] = {task: EVALUATORS[task](gt, results) for task in tasks}
    metrics["truth"] = caption_truth(gt, records)
    if tag_names and records and all("tag_probs" in r for r in records):
        own = {a.id: list(a.extra_info.get("tags", ())) for a in gt.annotations}
        metrics["tags"] = tag_map([own[r["id"]] for r in records], tag_names,
                                  [r["tag_probs"] for r in records])
    return metrics


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


def add_split_and_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data``, ``--split``, ``--model-type``, ``--checkpoint``: what the shapes benchmarks
    score and with which weights."""
    parser.add_argument("--data", default="data/shapes", help="shapes-world folder")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--model-type", default="shapes")
    parser.add_argument("--checkpoint", help="weights to score (default: the shipped ones)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.shapes.benchmark",
                                     description=__doc__.splitlines()[0])
    add_split_and_model_arguments(parser)
    parser.add_argument("--selection", choices=["model", "phash", "random", "fixed"],
                        default="model",
                        help="how the extra views are chosen at inference: as the model type's "
                             "eval processor (default), pHash, at random, or --fixed-ts")
    parser.add_argument("--fixed-ts", type=float, nargs="+", default=[0.5, 1.0],
                        help="the extra views' t for --selection fixed (num_views - 1 values)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --selection random")
    parser.add_argument("--tag-threshold", type=float,
                        help="tag threshold for control words (default: the model's)")
    parser.add_argument("--num-beams", type=int,
                        help="caption beam width (default: the model's generation.num_beams)")
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
    if args.num_beams is not None and args.num_beams < 1:
        raise CliError(f"--num-beams {args.num_beams}: must be >= 1")
    torch.manual_seed(args.seed)
    model = build_model(args.model_type, args.checkpoint)
    if args.tag_threshold is not None:
        model.config = dataclasses.replace(model.config, tag_threshold=args.tag_threshold)
    if args.num_beams is not None:
        model.config = dataclasses.replace(model.config, generation=dataclasses.replace(
            model.config.generation, num_beams=args.num_beams))
    views = view_settings(args.model_type, args.selection, args.fixed_ts)
    try:
        processor = MultiViewProcessor(MultiViewConfig(
            num_views=model.config.region.num_views, image_size=model.config.vision.image_size,
            seed=args.seed, **views))
    except ValueError as err:
        raise CliError(f"--selection {args.selection}: {err}") from None
    gt = load_region_annotations(gt_path)
    if args.max_images:
        keep = {image.id for image in gt.images[:args.max_images]}
        gt = dataclasses.replace(
            gt, images=gt.images[:args.max_images],
            annotations=tuple(a for a in gt.annotations if a.image_id in keep))
    root = Path(gt_path).parent / (gt.image_root or "")
    dataset = RegionDataset(gt, str(root), processor, level="image", annotation_path=str(gt_path))
    with torch.no_grad(), watch_resampler(model.resampler) as resampler:
        records = predict(model, dataset, args.batch_images)
    if out:
        out.write_text(json.dumps([{k: v for k, v in r.items() if k != "tag_probs"}
                                   for r in records]))
    metrics = score_all(gt, records, model.tags)
    # Is the resampler reading its regions (models/diagnostics.py)?
    metrics["resampler"] = {"attention_entropy": resampler.attention_entropy(),
                            "region_token_cosine": resampler.token_cosine()}
    if args.by_kind:
        metrics["region_caption_by_kind"] = score_by_kind(gt, records)
    summary = {"checkpoint": args.checkpoint or "shipped", "selection": selection_name(views),
               "num_views": model.config.region.num_views, "split": args.split,
               "tag_threshold": model.config.tag_threshold,
               "num_beams": model.config.generation.num_beams,
               "regions": len(records)}
    return json.dumps({**summary, **metrics})


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
