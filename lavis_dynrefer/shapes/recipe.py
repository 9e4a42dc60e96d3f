"""The shapes model's training recipe in one command: data, both stages, export, benchmark.

    python -m lavis_dynrefer.shapes.recipe [--out output/shapes/recipe] [--arm 3views]
        [--towers CKPT] [--ship] [--options k=v ...] [--towers-options k=v ...]

1. The held-out splits (``python -m lavis_dynrefer.shapes --out DATA --train 0``) unless
   ``DATA`` has them. Training scenes are generated on the fly and never written.
2. Stage 1 (``projects/dynrefer/pretrain_shapes_towers.yaml``): the ViT learns the world's facts
   (``shapes.towers``). ``--towers CKPT`` reuses a stage-1 checkpoint instead (the ablation arms
   share one, as the paper's arms share EVA).
3. Stage 2 (``projects/dynrefer/train_shapes.yaml``): DynRefer with that ViT frozen; every epoch
   is validated (with the shipped model's views: t = 0, 0.5, 1) and kept. The arm decides the
   training views: ``3views`` (the method: random extra views; scored with pHash, random and
   fixed views at inference), ``1view``, ``fixed`` (extra views t = 0.5 and 1 in training too).
4. The last epoch's weights with the frozen ViT, in fp16, as one file
   (``<out>/<arm>/dynrefer_shapes.pth``; ``--ship`` also copies it into the package).
5. The shapes benchmark on the test split (``shapes.benchmark``), once per inference selection
   of the arm; its JSON lines go to ``<out>/<arm>/benchmark.jsonl``.

Both stages go through LAVIS's runner (``python -m lavis_dynrefer.train``), so each stage's folder
holds its log, config and checkpoints as for any other run. ``--options`` are passed to stage 2,
``--towers-options`` to stage 1.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from lavis_dynrefer.cli import CliError, run_command
from lavis_dynrefer.paths import PACKAGE_ROOT

logger = logging.getLogger("lavis_dynrefer.shapes.recipe")

REPO_PROJECTS = Path("projects/dynrefer")
STAGE1_YAML = "pretrain_shapes_towers.yaml"
STAGE2_YAML = "train_shapes.yaml"
SHIPPED = PACKAGE_ROOT / "assets/shapes/dynrefer_shapes.pth"
EVAL_SPLITS = {"val": 200, "test": 200}


@dataclasses.dataclass(frozen=True)
class Arm:
    """One way of choosing views: stage-2 options and the inference selections to score."""

    options: tuple[str, ...]
    selections: tuple[tuple[str, ...], ...]


_FIXED = ("datasets.shapes_generated.vis_processor.{split}.mode=fixed",
          "datasets.shapes_generated.vis_processor.{split}.candidates=[0.5,1.0]")
ARMS = {
    "3views": Arm((), (("--selection", "phash"), ("--selection", "random"),
                       ("--selection", "fixed", "--fixed-ts", "0.5", "1.0"))),
    "1view": Arm(("model.region.num_views=1",
                  "datasets.shapes_generated.vis_processor.train.num_views=1",
                  "datasets.shapes_generated.vis_processor.eval.num_views=1",
                  "datasets.shapes_generated.vis_processor.eval.mode=eval"),
                 (("--selection", "phash"),)),
    "fixed": Arm(tuple(o.format(split="train") for o in _FIXED),
                 (("--selection", "fixed", "--fixed-ts", "0.5", "1.0"),)),
}


def project_yaml(name: str) -> Path:
    """A yaml of ``projects/dynrefer`` (the recipe runs from the repository root)."""
    path = REPO_PROJECTS / name
    if not path.is_file():
        raise CliError(f"{path} not found: run the recipe from the repository root")
    return path


def ensure_eval_splits(data: Path) -> None:
    """Write the val and test splits (no train split) unless ``data`` has them."""
    from lavis_dynrefer.shapes.writer import annotation_file_name, write_dataset

    if all((data / annotation_file_name(split)).is_file() for split in EVAL_SPLITS):
        return
    logger.info("generating the val and test splits in %s", data)
    write_dataset(data, counts={"train": 0, **EVAL_SPLITS})


def train(yaml: Path, output_dir: Path, options: Sequence[str]) -> Path:
    """Run ``python -m lavis_dynrefer.train`` in this process; the last epoch's checkpoint.

    LAVIS prints its progress to stdout; it goes to stderr here, so that the recipe's stdout is
    the benchmark's JSON lines alone."""
    from lavis_dynrefer.train import main as train_main

    with contextlib.redirect_stdout(sys.stderr):
        runner = train_main(["--cfg-path", str(yaml), "--options",
                             f"run.output_dir={output_dir}", *options])
    checkpoints = sorted(Path(runner.output_dir).glob("checkpoint_[0-9]*.pth"),
                         key=lambda p: int(p.stem.split("_")[1]))
    if not checkpoints:
        raise CliError(f"{runner.output_dir}: the run wrote no epoch checkpoint")
    return checkpoints[-1]


def export_shapes_model(checkpoint: Path, out: Path) -> Path:
    """One fp16 file with every parameter (the frozen ViT included) and the model config."""
    from lavis_dynrefer.weights.checkpoint_io import read_checkpoint
    from lavis_dynrefer.weights.rebuild import rebuild_model

    model, section = rebuild_model(read_checkpoint(str(checkpoint)), str(checkpoint))
    section["weights"] = {"checkpoint": None}
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state, "config": {"model": section}}, out)
    logger.info("wrote %s (%.1f MB)", out, out.stat().st_size / 2**20)
    return out


def benchmark(data: Path, weights: Path, selection: Sequence[str]) -> dict[str, Any]:
    """The shapes benchmark on the test split; its JSON summary."""
    from lavis_dynrefer.shapes.benchmark import build_parser, run

    args = build_parser().parse_args(["--data", str(data), "--split", "test", "--by-kind",
                                      "--checkpoint", str(weights), *selection])
    return json.loads(run(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lavis_dynrefer.shapes.recipe",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/shapes", help="held-out splits (made if absent)")
    parser.add_argument("--out", default="output/shapes/recipe", help="output folder")
    parser.add_argument("--arm", choices=sorted(ARMS), default="3views",
                        help="how views are chosen (the paper's ablation)")
    parser.add_argument("--towers", help="a stage-1 checkpoint to reuse (skips stage 1)")
    parser.add_argument("--ship", action="store_true",
                        help=f"also copy the weights to {SHIPPED.relative_to(PACKAGE_ROOT.parent)}")
    parser.add_argument("--no-benchmark", action="store_true", help="skip step 5")
    parser.add_argument("--options", nargs="+", default=[], help="stage-2 yaml overrides")
    parser.add_argument("--towers-options", nargs="+", default=[],
                        help="stage-1 yaml overrides")
    parser.add_argument("--max-test-images", type=int,
                        help="benchmark only the first N test images (default: all)")
    return parser


def run(args: argparse.Namespace) -> str:
    """Steps 1-5 (module docstring); returns the benchmark's JSON lines."""
    out, data = Path(args.out), Path(args.data)
    towers = Path(args.towers) if args.towers else None
    if towers is not None and not towers.is_file():
        raise CliError(f"--towers {towers}: no such file")
    stage1_yaml, stage2_yaml = project_yaml(STAGE1_YAML), project_yaml(STAGE2_YAML)
    start = time.perf_counter()
    ensure_eval_splits(data)
    if towers is None:
        towers = train(stage1_yaml, out / "towers", args.towers_options)
    stage1 = time.perf_counter() - start
    arm = ARMS[args.arm]
    last = train(stage2_yaml, out / args.arm,
                 [f"model.weights.towers={towers}",
                  f"datasets.shapes_generated.build_info.annotations.val.storage="
                  f"{data / 'val_regions.json'}", *arm.options, *args.options])
    trained = time.perf_counter() - start
    weights = export_shapes_model(last, out / args.arm / "dynrefer_shapes.pth")
    if args.ship:
        shutil.copyfile(weights, SHIPPED)
        logger.info("shipped %s", SHIPPED)
    logger.info("training took %.1f min (stage 1: %s)", trained / 60,
                "reused" if args.towers else f"{stage1 / 60:.1f} min")
    if args.no_benchmark:
        return json.dumps({"weights": str(weights), "training_minutes": trained / 60})
    limit = ["--max-images", str(args.max_test_images)] if args.max_test_images else []
    lines = [json.dumps(benchmark(data, weights, [*selection, *limit]))
             for selection in arm.selections]
    (out / args.arm / "benchmark.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    # Hugging Face tokenizers warn on stdout when the data loader forks after they ran; stdout
    # is the benchmark's JSON lines alone.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return run_command(build_parser(), run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
