"""Captions: closed vocabulary, phrases, context, uniqueness, and truth.

``interpret`` is an independent reading of the caption grammar over the object facts stored in
``extra_info``: every caption must be true of its object, and a caption the generator calls
referring must be true of no other object of the image.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from lavis_dynrefer.data.tag_list import load_tag_list
from lavis_dynrefer.shapes.scene import COLOR_NAMES, FILL_NAMES, SHAPES, SIZE_NAMES

SINGULAR = {"shapes": "shape"} | {w: s.name for s in SHAPES for w in (s.name, s.plural)}
NUMBERS = {"two": 2, "three": 3, "four": 4}
EXTREMES = {
    "largest": lambda o: o["radius"], "smallest": lambda o: -o["radius"],
    "leftmost": lambda o: -o["center"][0], "rightmost": lambda o: o["center"][0],
    "topmost": lambda o: -o["center"][1], "bottommost": lambda o: o["center"][1],
}
POSITIONS = {
    "in the top left corner": (0, 0), "at the top": (0, 1), "in the top right corner": (0, 2),
    "on the left": (1, 0), "in the center": (1, 1), "on the right": (1, 2),
    "in the bottom left corner": (2, 0), "at the bottom": (2, 1),
    "in the bottom right corner": (2, 2),
}
RELATIONS = ("left of", "right of", "above", "below", "in front of", "behind")
Obj = dict[str, Any]


def matching(words: list[str], objects: list[Obj]) -> list[Obj]:
    """Objects the noun phrase ``[size] [fill] [color] noun`` describes."""
    *modifiers, noun = words
    wanted = {} if noun in ("shape", "shapes") else {"shape": SINGULAR[noun]}
    for word in modifiers:
        key = ("size" if word in SIZE_NAMES else "fill" if word in FILL_NAMES
               else "color" if word in COLOR_NAMES else None)
        assert key is not None, f"unexpected modifier {word!r} in {words}"
        wanted[key] = word
    return [o for o in objects if all(o[k] == v for k, v in wanted.items())]


def cell(obj: Obj) -> tuple[int, int]:
    x, y = obj["center"]
    return min(int(y * 3 // 224), 2), min(int(x * 3 // 224), 2)


def boxes_touch(a: Obj, b: Obj) -> bool:
    return not (a["bbox"][2] <= b["bbox"][0] or b["bbox"][2] <= a["bbox"][0]
                or a["bbox"][3] <= b["bbox"][1] or b["bbox"][3] <= a["bbox"][1])


def related(x: Obj, anchor: Obj, word: str) -> bool | None:
    """Whether ``x`` is ``word`` of ``anchor``; None where only the shapes' pixels could tell.

    Shapes overlap only where boxes do; overlapping shapes take "in front of" / "behind".
    """
    if word in ("in front of", "behind"):
        in_front = x["depth"] > anchor["depth"]
        return None if boxes_touch(x, anchor) and in_front == (word == "in front of") else False
    if boxes_touch(x, anchor):
        return None
    dx, dy = anchor["center"][0] - x["center"][0], anchor["center"][1] - x["center"][1]
    if abs(dx) >= abs(dy):
        return word == ("left of" if dx > 0 else "right of")
    return word == ("above" if dy > 0 else "below")


def interpret(words: list[str], objects: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(objects the caption is surely true of, objects it may be true of)."""
    if words[0] in ("a", "an"):
        found = matching(words[1:], objects)
        return found, found
    if words[:2] == ["one", "of"]:
        found = matching(words[3:], objects)
        assert len(found) == NUMBERS[words[2]]
        return found, found
    assert words[0] == "the", words
    if words[1] == "only":
        found = matching(words[2:], objects)
        return found, found
    if words[1] in EXTREMES:
        group = matching(words[2:], objects)
        found = [max(group, key=EXTREMES[words[1]])]
        return found, found
    text = " ".join(words)
    for phrase, place in POSITIONS.items():
        if text.endswith(" " + phrase):
            head = text[: -len(phrase) - 1].split()[1:]
            found = [o for o in matching(head, objects) if cell(o) == place]
            return found, found
    for word in RELATIONS:
        if f" {word} the " in text:
            head, tail = text.split(f" {word} the ", 1)
            anchors = matching(tail.split(), objects)
            assert len(anchors) == 1, f"relation anchor not unique: {text}"
            candidates = [o for o in matching(head.split()[1:], objects) if o is not anchors[0]]
            sure = [o for o in candidates if related(o, anchors[0], word)]
            maybe = [o for o in candidates if related(o, anchors[0], word) is not False]
            return sure, maybe
    raise AssertionError(f"caption outside the grammar: {text}")


def test_captions_are_true_and_referring_where_claimed(shapes_files):
    checked = 0
    for data in shapes_files.values():
        images = defaultdict(list)
        for ann in data["annotations"]:
            images[ann["image_id"]].append(ann)
        for anns in images.values():
            objects = [{**a["extra_info"], "id": a["id"], "bbox": a["bbox"]} for a in anns]
            for ann, obj in zip(anns, objects):
                sure, maybe = interpret(ann["caption"].split(), objects)
                assert obj["id"] in {o["id"] for o in maybe}, ann["caption"]
                if ann["extra_info"]["referring"]:
                    assert {o["id"] for o in sure} <= {obj["id"]}, ann["caption"]
                    assert len(maybe) >= 1
                checked += 1
    assert checked > 100


def test_relation_targets_point_into_the_same_image(shapes_files):
    relations = 0
    for data in shapes_files.values():
        image_of = {ann["id"]: ann["image_id"] for ann in data["annotations"]}
        for ann in data["annotations"]:
            relation = ann["extra_info"]["relation"]
            if ann["extra_info"]["kind"] != "relation":
                assert relation is None
                continue
            assert f" {relation['word']} the " in ann["caption"]
            assert relation["target_id"] != ann["id"]
            assert image_of[relation["target_id"]] == ann["image_id"]
            relations += 1
    assert relations > 0


def test_closed_vocabulary_and_phrases(shapes_dir: Path, annotations):
    vocab = set((shapes_dir / "vocab.txt").read_text().split())
    tags = set(load_tag_list(shapes_dir / "tags.txt"))
    for ann in annotations:
        words = ann["caption"].split()
        assert set(words) <= vocab and 2 <= len(words) <= 16, ann["caption"]
        caption_words = {SINGULAR.get(w, w) for w in words}
        phrases = ann["extra_info"]["phrases"]
        assert phrases
        for phrase in phrases:
            assert set(phrase.split()) <= caption_words, (phrase, ann["caption"])
        # Tags are the object's own facts, whatever the caption says.
        info = ann["extra_info"]
        own = [info["color"], info["shape"], info["size"], info["fill"]]
        assert ann["extra_info"]["tags"][:4] == own and set(info["tags"]) <= tags
        row, column = info["position"].split()
        position = set(info["tags"][4:])
        assert ("corner" in position) == (row != "middle" and column != "center")
        assert ("center" in position) == (row == "middle" and column == "center")
        assert position - {"corner", "center"} == {row, column} - {"middle", "center"}


def test_most_captions_need_context_and_are_unique(shapes_files, annotations):
    context = [a["extra_info"]["needs_context"] for a in annotations]
    assert sum(context) / len(context) >= 0.5
    kinds = {a["extra_info"]["kind"] for a in annotations}
    assert kinds == {"plain", "position", "relation", "superlative", "count"}
    referring = [a["extra_info"]["referring"] for a in annotations]
    assert sum(referring) / len(referring) >= 0.8
    for data in shapes_files.values():
        captions = defaultdict(list)
        for ann in data["annotations"]:
            captions[ann["image_id"]].append(ann)
        for anns in captions.values():
            texts = [a["caption"] for a in anns]
            for ann in anns:
                assert ann["extra_info"]["unique"] == (texts.count(ann["caption"]) == 1)
        flags = [a["extra_info"]["unique"] for a in data["annotations"]]
        assert sum(flags) / len(flags) >= 0.95
