"""The shipped ``shapes`` model is held to floors: on a split generated with a fixed seed it must
recognise, describe and tag its regions about as well as when it was measured (README), and the
demo's default printout must be right about every region of the shipped scene.

A regression anywhere on the way (generator, processor, view selection, weight loading, the
model's code or a retrained checkpoint) fails here. The floors sit about 10 points under the
values measured on this split with the shipped weights (``MEASURED``).
"""

from __future__ import annotations

import json
import re

import pytest

from lavis_dynrefer import demo
from lavis_dynrefer.data.annotations import parse_region_annotations
from lavis_dynrefer.paths import asset_path
from lavis_dynrefer.shapes import benchmark, write_dataset
from lavis_dynrefer.shapes.truth import judge

SEED, IMAGES = 7, 40
# Measured with the shipped weights on this split (python -m pytest tests/test_shipped_model.py
# prints them with -s); the floors are about 10 points under.
MEASURED = {"recognition": 93.1, "true": 92.1, "referring": 89.7, "attributes": 91.7, "tags": 98.3}
FLOORS = {key: value - 10 for key, value in MEASURED.items()}
GROUNDING_MEASURED = {"rec_accuracy": 94.6, "f1": 88.2, "no_target_accuracy": 83.8}


@pytest.fixture(scope="module")
def floor_data(tmp_path_factory):
    data = tmp_path_factory.mktemp("floor")
    write_dataset(data, seed=SEED, counts={"test": IMAGES})
    return data


@pytest.fixture(scope="module")
def summary(floor_data) -> dict:
    return json.loads(benchmark.run(benchmark.build_parser().parse_args(
        ["--data", str(floor_data), "--split", "test"])))


def test_the_shipped_model_grounds_above_its_floors(floor_data):
    """Grounding with GT boxes as candidates (shapes.grounding_benchmark, the model's
    threshold): REC accuracy, zero/one/many F1 and no-target accuracy."""
    from lavis_dynrefer.shapes import grounding_benchmark

    out = json.loads(grounding_benchmark.run(grounding_benchmark.build_parser().parse_args(
        ["--data", str(floor_data), "--split", "test"])))
    got = {key: out[key] for key in GROUNDING_MEASURED}
    print(json.dumps(got))  # noqa: T201  (the values to update GROUNDING_MEASURED from)
    low = {key: (round(value, 1), GROUNDING_MEASURED[key] - 10) for key, value in got.items()
           if value < GROUNDING_MEASURED[key] - 10}
    assert not low, f"below the floor (got, floor): {low}"


def test_the_shipped_model_stays_above_its_floors(summary):
    got = {"recognition": summary["recognition"]["accuracy"],
           "true": summary["truth"]["true"], "referring": summary["truth"]["referring"],
           "attributes": summary["ovad"]["ap/all"], "tags": summary["tags"]["mAP"]}
    print(json.dumps(got))  # noqa: T201  (the values to update MEASURED from, with -s)
    low = {key: (round(value, 1), FLOORS[key]) for key, value in got.items()
           if value < FLOORS[key]}
    assert not low, f"below the floor (got, floor): {low}"


def _blocks(printout: str) -> list[dict[str, str]]:
    """The demo's per-region blocks as {caption, attributes, class}."""
    blocks = []
    for block in re.split(r"^region \d+ ", printout, flags=re.M)[1:]:
        fields = dict(re.findall(r"^\s+(caption|attributes|class):\s+(.*)$", block, re.M))
        fields["caption"] = re.sub(r"\s+\(score [0-9.]+\)$", "", fields["caption"])
        blocks.append(fields)
    return blocks


def test_the_demo_printout_is_right_about_every_region(capsys, tmp_path):
    code = demo.main(["--out", str(tmp_path / "demo.png")])
    printout = capsys.readouterr().out
    assert code == 0
    with open(asset_path("shapes_scene.json"), encoding="utf-8") as handle:
        scene = json.load(handle)
    annotations = scene["annotations"]
    gt = parse_region_annotations(
        {"images": [{"id": 1, "file_name": scene["image"], "width": 224, "height": 224}],
         "annotations": [{**a, "image_id": 1} for a in annotations]}, "shapes_scene.json")
    blocks = _blocks(printout)
    assert len(blocks) == len(annotations) == len(scene["boxes"])
    verdicts = judge(gt, {a["id"]: b["caption"] for a, b in zip(annotations, blocks)})
    wrong = [(b["caption"], a["caption"]) for v, a, b in zip(verdicts, annotations, blocks)
             if not v.true]
    assert not wrong, f"captions not true of their regions (caption, GT): {wrong}"
    for annotation, block in zip(annotations, blocks):
        assert block["class"] == annotation["extra_info"]["shape"], block
        names = [item.rsplit(" ", 1)[0] for item in block["attributes"].split(", ")]
        for name in names:
            assert _holds(name, annotation), (name, annotation["caption"], block)


def _holds(synonym: str, annotation: dict) -> bool:
    """Whether the attribute whose first synonym is ``synonym`` is not false of the region."""
    from lavis_dynrefer.shapes.attributes import ATTRIBUTES

    (index,) = [i for i, a in enumerate(ATTRIBUTES)
                if a.name.split(":", 1)[1].split("/")[0] == synonym]
    return annotation["att_vec"][index] != 0
