"""Scene sampler, renderer, caption builders and attribute labels on hand-made scenes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lavis_dynrefer.shapes.attributes import (
    ATTRIBUTES,
    attribute_labels,
    attribute_records,
    frequency_sets,
)
from lavis_dynrefer.shapes.captions import (
    CaptionContext,
    choose_captions,
    count_caption,
    plain_caption,
    position_caption,
    relation_caption,
    superlative_caption,
)
from lavis_dynrefer.shapes.facts import ObjectFacts, build_facts, relation, third
from lavis_dynrefer.shapes.language import (
    NounPhrase,
    article,
    position_phrases,
    position_words,
    tag_list,
    vocabulary,
)
from lavis_dynrefer.shapes.render import render_scene
from lavis_dynrefer.shapes.scene import (
    MAX_OBJECTS,
    MIN_OBJECTS,
    Background,
    Scene,
    ShapeObject,
    sample_scene,
)

SIZE = 224
PLAIN = Background(kind="plain", colors=((205, 205, 205), (55, 58, 64)), angle=0.0, seed=0)


def shape(name="square", color="red", cx=112.0, cy=112.0, radius=20.0, fill="solid",
          size="medium", rgb=(215, 40, 40)) -> ShapeObject:
    return ShapeObject(shape=name, color=color, rgb=rgb, size=size, fill=fill, cx=cx, cy=cy,
                       radius=radius, rotation=0.0, pattern_angle=45)


def facts_of(*objects: ShapeObject) -> tuple[ObjectFacts, ...]:
    scene = Scene(size=SIZE, background=PLAIN, objects=objects)
    return build_facts(scene, render_scene(scene))


def test_sampler_is_deterministic_and_bounded():
    for seed in range(30):
        scene = sample_scene(np.random.default_rng(seed), SIZE)
        assert scene == sample_scene(np.random.default_rng(seed), SIZE)
        assert MIN_OBJECTS <= len(scene.objects) <= MAX_OBJECTS
        assert all(0 < o.cx < SIZE and 0 < o.cy < SIZE for o in scene.objects)


def test_render_box_visibility_and_overlap():
    back = shape(cx=100.0, cy=100.0, radius=30.0)
    front = shape(name="circle", color="blue", rgb=(40, 80, 215), cx=130.0, cy=100.0)
    scene = Scene(size=SIZE, background=PLAIN, objects=(back, front))
    rendered = render_scene(scene)
    half = 30.0 / np.sqrt(2)  # the square's corners lie on its circle of radius 30
    x1, y1, x2, y2 = rendered.objects[0].box
    assert abs(x1 - (100 - half)) <= 1 and abs(x2 - (100 + half)) <= 1
    assert abs(y1 - (100 - half)) <= 1 and abs(y2 - (100 + half)) <= 1
    assert rendered.objects[0].visible < 0.9 and rendered.objects[1].visible == 1.0
    assert rendered.objects[1].above == {0} and rendered.objects[0].below == {1}
    painted = (rendered.image == (215, 40, 40)).all(-1)
    assert painted.sum() == round(rendered.objects[0].visible * rendered.objects[0].area)


def test_box_is_clipped_and_outline_is_a_ring():
    cut = shape(name="circle", cx=5.0, cy=112.0, radius=20.0, fill="outlined")
    whole = dataclasses.replace(cut, cx=112.0)
    rendered = render_scene(Scene(size=SIZE, background=PLAIN, objects=(cut, whole)))
    assert rendered.objects[0].box[0] == 0 and abs(rendered.objects[0].box[2] - 25) <= 1
    assert (rendered.image[112, 0] == PLAIN.colors[0]).all()  # no band along the image edge
    ring = rendered.objects[1]
    assert 0.2 < ring.area / (np.pi * 20**2) < 0.6
    assert (rendered.image[112, 112] == PLAIN.colors[0]).all()  # hollow inside


def test_relations_are_one_per_pair():
    left, right = facts_of(shape(cx=50.0), shape(name="circle", cx=150.0))
    assert relation(left, right) == "left of" and relation(right, left) == "right of"
    low, high = facts_of(shape(cy=180.0), shape(name="circle", cy=40.0))
    assert relation(low, high) == "below" and relation(high, low) == "above"
    back, front = facts_of(shape(cx=100.0), shape(name="circle", cx=110.0))
    assert relation(front, back) == "in front of" and relation(back, front) == "behind"
    assert [third(v, SIZE) for v in (0, 74, 75, 149, 150, 223)] == [0, 0, 1, 1, 2, 2]


def test_caption_builders_on_a_hand_made_scene():
    objects = facts_of(
        shape(name="circle", cx=40.0, cy=40.0, radius=12.0, size="small"),
        shape(name="circle", cx=180.0, cy=180.0, radius=30.0, size="large"),
        shape(name="square", color="blue", rgb=(40, 80, 215), cx=112.0, cy=112.0),
    )
    ctx = CaptionContext(objects=objects, size=SIZE)
    small, large, square = objects
    rng = np.random.default_rng(0)
    assert position_caption(ctx, small, rng).text.endswith("in the top left corner")
    superlative = superlative_caption(ctx, large, rng)
    assert superlative.words[1] in ("largest", "rightmost", "bottommost")
    assert superlative.referring
    relation_ = relation_caption(ctx, small, rng)
    assert relation_.anchor in (1, 2) and relation_.relation in ("above", "left of")
    for seed in range(10):
        count = count_caption(ctx, small, np.random.default_rng(seed))
        if count.words[0] == "one":
            assert count.text.startswith("one of two") and not count.referring
        else:
            assert count.words[:2] == ("the", "only") and count.referring
    plain = plain_caption(ctx, square, rng)
    assert plain.words[0] == "a" and "square" in plain.words and plain.kind == "plain"


def test_twins_get_distinct_captions():
    twin = shape(name="star", cx=60.0, cy=112.0)
    objects = facts_of(twin, dataclasses.replace(twin, cx=170.0))
    ctx = CaptionContext(objects=objects, size=SIZE)
    assert plain_caption(ctx, objects[0], np.random.default_rng(0)) is None
    for seed in range(20):
        captions = choose_captions(objects, SIZE, np.random.default_rng(seed))
        assert captions[0].text != captions[1].text
        assert all(c.needs_context for c in captions)


def test_noun_phrase_language():
    phrase = NounPhrase(shape="circle", color="red", size="small")
    assert phrase.words() == ["small", "red", "circle"]
    assert phrase.phrases() == ["small red circle", "red circle", "circle", "small", "red"]
    assert NounPhrase(color="orange").words(plural=True) == ["orange", "shapes"]
    assert article(["orange", "shape"]) == "an" and article(["red", "shape"]) == "a"
    assert position_words(0, 0) == ["in", "the", "top", "left", "corner"]
    assert position_phrases(0, 0) == ["top left corner", "left corner", "corner", "top", "left"]
    assert position_phrases(1, 1) == ["center"]
    words, tags = vocabulary(), tag_list()
    assert len(words) == len(set(words)) and set(tags) <= set(words)
    assert "middle" not in words  # no caption says it


def test_attribute_labels_and_frequency_sets():
    hidden_back = shape(cx=100.0, radius=20.0, fill="striped")
    cover = shape(name="circle", color="blue", rgb=(40, 80, 215), cx=104.0, radius=34.0)
    objects = facts_of(hidden_back, cover)
    assert objects[0].visible < 0.6
    labels = np.array(attribute_labels(objects, SIZE, np.random.default_rng(0)))
    names = [a.name for a in ATTRIBUTES]
    pattern = [i for i, n in enumerate(names) if n.startswith("pattern:")]
    assert (labels[0, pattern] == -1).all()
    assert labels[1, names.index("pattern:solid/plain")] in (1, -1)
    assert labels[0, names.index("state:occluded/covered")] in (1, -1)
    counts = np.zeros((10, len(ATTRIBUTES)), dtype=int)
    counts[:, :5] = 1  # attributes 0-4 always positive, the rest never
    sets = frequency_sets(counts)
    assert sets[:5] == ["head"] * 5 and sets.count("tail") == len(ATTRIBUTES) // 3
    records = attribute_records(sets)
    assert records[0] == {"id": 0, "name": "color:red", "type": "color", "freq_set": "head",
                          "is_has_att": "has"}


@pytest.mark.parametrize("seed", range(5))
def test_captions_of_sampled_scenes_fit_the_vocabulary(seed: int):
    rng = np.random.default_rng(seed)
    scene = sample_scene(rng, SIZE)
    objects = build_facts(scene, render_scene(scene))
    words = set(vocabulary())
    for caption in choose_captions(objects, SIZE, rng):
        assert set(caption.words) <= words
