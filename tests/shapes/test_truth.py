"""Caption truth: the parser and the checks, on hand-made scenes with answers worked out by hand,
and the GT captions of a generated split (all true; referring exactly where the file says)."""

from __future__ import annotations

import dataclasses

import pytest

from lavis_dynrefer.data.annotations import load_region_annotations
from lavis_dynrefer.shapes.facts import ObjectFacts
from lavis_dynrefer.shapes.language import NounPhrase
from lavis_dynrefer.shapes.truth import (
    caption_truth,
    holds,
    judge,
    parse_caption,
    parse_noun_phrase,
)

SIZE = 224


def obj(index: int, shape: str, color: str, cx: float, cy: float, radius: float = 15.0,
        size: str = "medium", fill: str = "solid", above=(), below=()) -> ObjectFacts:
    return ObjectFacts(index=index, shape=shape, color=color, size=size, fill=fill,
                       rgb=(0, 0, 0), cx=cx, cy=cy, radius=radius, box=(0, 0, 1, 1), visible=1.0,
                       above=frozenset(above), below=frozenset(below),
                       row=min(int(cy * 3 // SIZE), 2), column=min(int(cx * 3 // SIZE), 2))


# A small red circle top left, a red square top right, a large blue circle bottom left and a
# striped red circle in the centre; nothing overlaps.
RED_CIRCLE = obj(1, "circle", "red", 30, 30, radius=12, size="small")
RED_SQUARE = obj(2, "square", "red", 190, 30)
BLUE_CIRCLE = obj(3, "circle", "blue", 30, 190, radius=30, size="large")
STRIPED = obj(4, "circle", "red", 110, 110, fill="striped")
SCENE = [RED_CIRCLE, RED_SQUARE, BLUE_CIRCLE, STRIPED]


def test_noun_phrases():
    assert parse_noun_phrase("small striped red circle".split()) == NounPhrase(
        shape="circle", color="red", size="small", fill="striped")
    assert parse_noun_phrase(["red", "shape"]) == NounPhrase(color="red")
    assert parse_noun_phrase(["circles"], plural=True) == NounPhrase(shape="circle")
    assert parse_noun_phrase(["circles"]) is None  # plural where a singular is needed
    assert parse_noun_phrase(["red", "blue", "circle"]) is None  # two colours
    assert parse_noun_phrase(["red"]) is None  # no noun


@pytest.mark.parametrize("caption, kind", [
    ("a small striped red circle", "plain"),
    ("the red circle in the top left corner", "position"),
    ("the circle on the left", "position"),
    ("the square right of the red circle", "relation"),
    ("the circle in front of the square", "relation"),
    ("the largest circle", "superlative"),
    ("one of three red shapes", "count"),
    ("the only blue shape", "count"),
    ("the red square", "definite"),
    ("a circle circle", "unparsed"),
    ("red circle", "unparsed"),
    ("", "unparsed"),
])
def test_kinds(caption, kind):
    assert parse_caption(caption).kind == kind


@pytest.mark.parametrize("caption, target, true", [
    ("a small red circle", RED_CIRCLE, True),
    ("a large red circle", RED_CIRCLE, False),  # wrong size
    ("a red circle", STRIPED, True),
    ("a solid red circle", STRIPED, False),  # striped
    ("the red circle in the top left corner", RED_CIRCLE, True),
    ("the red circle at the top", RED_CIRCLE, False),  # top centre is another cell
    ("the striped circle in the center", STRIPED, True),
    ("the blue circle below the small circle", BLUE_CIRCLE, True),  # dy dominates
    ("the blue circle right of the small circle", BLUE_CIRCLE, False),
    ("the blue circle below the red circle", BLUE_CIRCLE, False),  # two other red circles
    ("the red square right of the striped circle", RED_SQUARE, True),
    ("the largest circle", BLUE_CIRCLE, True),
    ("the smallest circle", RED_CIRCLE, True),
    ("the leftmost red circle", RED_CIRCLE, True),
    ("the leftmost circle", RED_CIRCLE, False),  # tied with the blue circle (cx 30)
    ("one of three red shapes", RED_SQUARE, True),
    ("one of two red circles", RED_CIRCLE, True),
    ("one of three red circles", RED_CIRCLE, False),
    ("the only square", RED_SQUARE, True),
    ("the only red shape", RED_SQUARE, False),
    ("the only blue shape", BLUE_CIRCLE, True),
    ("the red square", RED_SQUARE, True),
    ("the red circle", RED_CIRCLE, False),  # "the" needs one red circle
])
def test_holds(caption, target, true):
    assert holds(parse_caption(caption), target, SCENE, SIZE) is true


def test_occlusion_relations():
    front = obj(1, "star", "green", 100, 100, above={2})
    back = obj(2, "heart", "pink", 110, 100, below={1})
    assert holds(parse_caption("the star in front of the heart"), front, [front, back], SIZE)
    assert holds(parse_caption("the heart behind the green shape"), back, [front, back], SIZE)
    # Overlapping shapes are in front of / behind, never left of / right of each other.
    assert not holds(parse_caption("the star left of the heart"), front, [front, back], SIZE)


def test_referring_needs_the_target_alone():
    scene = [RED_CIRCLE, RED_SQUARE, BLUE_CIRCLE, STRIPED]
    gt = _file(scene)
    verdicts = {v.id: v for v in judge(gt, {1: "one of two red circles", 2: "the only square",
                                            3: "a circle", 4: "a red circle"})}
    assert (verdicts[1].true, verdicts[1].referring) == (True, False)  # also true of 4
    assert (verdicts[2].true, verdicts[2].referring) == (True, True)
    assert (verdicts[3].true, verdicts[3].referring) == (True, False)  # every circle
    assert verdicts[4].kind == "plain" and not verdicts[4].referring


def test_summary_per_kind():
    gt = _file(SCENE)
    summary = caption_truth(gt, [{"id": 1, "caption": "a small red circle"},
                                 {"id": 2, "caption": "a blue square"},
                                 {"id": 3, "caption": "the only blue shape"},
                                 {"id": 4, "caption": "circle"}])
    assert summary["captions"] == 4
    assert summary["true"] == 50.0 and summary["referring"] == 50.0
    assert summary["subject_true"] == 50.0  # "a blue square" and "circle" name no true subject
    assert summary["by_kind"]["plain"] == {"captions": 2, "true": 50.0, "referring": 50.0,
                                           "subject_true": 50.0}
    assert summary["by_kind"]["unparsed"]["true"] == 0.0


def test_unknown_ids_and_old_files_are_named():
    with pytest.raises(ValueError, match="not in"):
        judge(_file(SCENE), {99: "a circle"})
    old = _file(SCENE)
    stripped = dataclasses.replace(old, annotations=tuple(
        dataclasses.replace(a, extra_info={k: v for k, v in a.extra_info.items()
                                           if k != "in_front_of"}) for a in old.annotations))
    with pytest.raises(ValueError, match="annotation 1: extra_info lacks \\['in_front_of'\\]"):
        judge(stripped, {1: "a circle"})


def test_generated_gt_captions_are_true_and_referring_as_recorded(shapes_dir):
    for split in ("train", "val", "test"):
        gt = load_region_annotations(shapes_dir / f"{split}_regions.json")
        verdicts = judge(gt, {a.id: a.caption for a in gt.annotations})
        referring = {a.id: a.extra_info["referring"] for a in gt.annotations}
        assert len(verdicts) == len(gt.annotations)
        assert all(v.true for v in verdicts), [v for v in verdicts if not v.true]
        assert all(v.referring == referring[v.id] for v in verdicts)


def _file(objects):
    """A one-image annotation file holding ``objects`` (ids = their indices)."""
    from lavis_dynrefer.data.annotations import parse_region_annotations
    from lavis_dynrefer.shapes.facts import COLUMNS, ROWS

    annotations = [{
        "id": o.index, "image_id": 1, "bbox": [o.cx - o.radius, o.cy - o.radius,
                                               o.cx + o.radius, o.cy + o.radius],
        "caption": "", "extra_info": {
            "shape": o.shape, "color": o.color, "size": o.size, "fill": o.fill,
            "position": f"{ROWS[o.row]} {COLUMNS[o.column]}", "center": [o.cx, o.cy],
            "radius": o.radius, "in_front_of": sorted(o.above), "behind": sorted(o.below)},
    } for o in objects]
    data = {"images": [{"id": 1, "file_name": "x.png", "width": SIZE, "height": SIZE}],
            "annotations": annotations}
    return parse_region_annotations(data, "hand-made scene")
