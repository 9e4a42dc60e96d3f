"""The shapes world's grounding split: each expression's targets are exactly the objects it is
true of, checked here from the objects' stored facts, not with the truth module."""

from __future__ import annotations

import re

import pytest

from lavis_dynrefer.data.annotations import load_region_annotations
from lavis_dynrefer.grounding.formats import parse_grounding
from lavis_dynrefer.shapes.grounding import grounding_split
from lavis_dynrefer.shapes.language import GENERIC_PLURAL, PLURALS

SINGULAR = {**{plural: shape for shape, plural in PLURALS.items()}, GENERIC_PLURAL: None}

CELL = {("in the top left corner"): "top left", "in the top right corner": "top right",
        "in the bottom left corner": "bottom left", "in the bottom right corner": "bottom right",
        "at the top": "top center", "at the bottom": "bottom center", "on the left": "middle left",
        "on the right": "middle right", "in the center": "middle center"}


def test_targets_are_the_objects_the_text_is_true_of(shapes_dir):
    gt = load_region_annotations(shapes_dir / "test_regions.json")
    split = grounding_split(gt, seed=0)
    parse_grounding(split)  # a valid grounding file
    by_id = {a.id: a for a in gt.annotations}
    by_image = gt.annotations_by_image
    kinds = set()
    for expression in split["expressions"]:
        kinds.add(expression["kind"])
        objects = by_image[expression["image_id"]]
        targets = expression["targets"]
        if "region_id" in expression:
            region = by_id[expression["region_id"]]
            assert list(region.bbox) in targets  # a GT caption is true of its own region
            if region.extra_info["referring"]:
                assert targets == [list(region.bbox)]
            count = re.match(r"one of (two|three|four) (.+)$", expression["text"])
            if count:  # "one of two red stars": every red star, and there are two
                number = {"two": 2, "three": 3, "four": 4}[count[1]]
                *modifiers, noun = count[2].split()
                shape = SINGULAR[noun]
                same = [a for a in objects if shape in (None, a.extra_info["shape"])
                        and all(m in (a.extra_info["color"], a.extra_info["size"],
                                      a.extra_info["fill"]) for m in modifiers)]
                assert len(targets) == number == len(same)
        else:
            assert targets == []
            words = expression["text"].split()
            color, shape, place = words[1], words[2], " ".join(words[3:])
            matching = [a for a in objects if (a.extra_info["color"], a.extra_info["shape"])
                        == (color, shape)]
            if expression["kind"] == "absent":
                assert place == "" and matching == []
            else:
                assert expression["kind"] == "misplaced" and matching
                assert all(a.extra_info["position"] != CELL[place] for a in matching)
    assert {"absent", "misplaced", "count"} <= kinds


def test_split_is_repeatable(shapes_dir):
    gt = load_region_annotations(shapes_dir / "test_regions.json")
    assert grounding_split(gt, seed=3) == grounding_split(gt, seed=3)
    assert grounding_split(gt, seed=3) != grounding_split(gt, seed=4)


def test_anchor_phrase_of_a_relation_caption():
    from lavis_dynrefer.shapes.grounding_benchmark import anchor_text

    assert anchor_text("the blue shape above the small blue shape") == "the small blue shape"
    assert anchor_text("the dotted square right of the outlined pink shape") == (
        "the outlined pink shape")
    assert anchor_text("one of four circles") is None


def test_grounding_benchmark_command(shapes_dir):
    import json

    from lavis_dynrefer.shapes import grounding_benchmark

    def run(*extra):
        args = grounding_benchmark.build_parser().parse_args(
            ["--data", str(shapes_dir), "--split", "test", "--max-images", "2", *extra])
        return json.loads(grounding_benchmark.run(args))

    split = grounding_split(load_region_annotations(shapes_dir / "test_regions.json"))
    first_two = {image["id"] for image in split["images"][:2]}
    expressions = [e for e in split["expressions"] if e["image_id"] in first_two]
    strict = run("--threshold", "0.999999")  # nothing matches
    assert strict["expressions"] == len(expressions)
    assert strict["no_target_accuracy"] == 100.0 and strict["recall"] == 0.0
    assert strict["no_target"] == sum(not e["targets"] for e in expressions)
    loose = run("--threshold", "0.000001", "--relative", "0")  # every candidate matches
    assert loose["recall"] == 100.0 and loose["no_target_accuracy"] == 0.0
    # With a relative threshold of 1 only the best candidate matches: one box per expression,
    # a true positive exactly when REC's top-1 box hits, a false one for every no-target text.
    best_only = run("--threshold", "0.000001", "--relative", "1")
    assert best_only["no_target_accuracy"] == 0.0
    with_targets = len(expressions) - best_only["no_target"]
    assert best_only["precision"] == pytest.approx(
        best_only["rec_accuracy"] * with_targets / len(expressions), abs=1e-6)
    # REC does not depend on the threshold; the sweep picks one of its rules.
    chosen = run("--choose-threshold")
    assert chosen["rec_accuracy"] == strict["rec_accuracy"] == loose["rec_accuracy"]
    assert f"{chosen['threshold']} {chosen['relative']}" in chosen["sweep"]
    # The built-in proposals as candidates: same expressions, ranked boxes from the proposals.
    proposed = run("--candidates", "proposals", "--threshold", "0.999999")
    assert proposed["candidates"] == "built-in proposals"
    assert proposed["expressions"] == len(expressions)
    assert proposed["recall@10"] >= proposed["recall@5"] >= proposed["rec_accuracy"]


def test_lavis_grounding_task_agrees_with_the_benchmark(shapes_dir, tmp_path):
    """The grounding task through LAVIS's runner (evaluate entry point, the project yaml) and
    the grounding benchmark, two code paths, give the same metrics on the same split."""
    import json

    from lavis_dynrefer import evaluate
    from lavis_dynrefer.shapes import grounding_benchmark
    from lavis_dynrefer.shapes.grounding import write_grounding_split

    split_file = write_grounding_split(shapes_dir, "test")
    evaluate.main(["--cfg-path", "projects/dynrefer/eval_shapes_grounding.yaml", "--options",
                   f"datasets.grounding.build_info.annotations.test.storage={split_file}",
                   f"run.output_dir={tmp_path}"])
    lines = [json.loads(line) for line in
             next(tmp_path.rglob("evaluate.txt")).read_text().splitlines()]
    task = lines[-1]["test"]
    args = grounding_benchmark.build_parser().parse_args(
        ["--data", str(shapes_dir), "--split", "test"])
    bench = json.loads(grounding_benchmark.run(args))
    for key in ("rec_accuracy", "recall@5", "precision", "recall", "no_target_accuracy"):
        assert task[key] == pytest.approx(bench[key], abs=1e-6), key
    assert task["expressions"] == bench["expressions"] == len(
        json.loads(split_file.read_text())["expressions"])


def test_proposal_recall_command(shapes_dir):
    import json

    from lavis_dynrefer.shapes import grounding_benchmark

    args = grounding_benchmark.build_parser().parse_args(
        ["--data", str(shapes_dir), "--split", "test", "--max-images", "2", "--proposal-recall"])
    out = json.loads(grounding_benchmark.run(args))
    gt = load_region_annotations(shapes_dir / "test_regions.json")
    first_two = {image.id for image in gt.images[:2]}
    assert out["images"] == 2
    assert out["objects"] == sum(a.image_id in first_two for a in gt.annotations)
    assert 0 <= out["recall@0.5"] <= 100 and out["boxes_per_image"] > 0
