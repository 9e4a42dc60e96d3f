"""Caption truth: is a generated caption true of its region, and does it single the region out?

One reference caption per region cannot tell a right caption from the reference's wording ("the
red circle at the top" and "the only red circle" may both be right), so on the shapes world,
where every fact of every object is known, a caption is checked against the scene itself:

- *true*: every fact it states holds for the target: its attributes (shape, colour, size, fill),
  its cell (``in the top left corner``), its relation to the object it names (``left of the blue
  square``: that phrase must name exactly one other object, and the relation must be the one
  ``facts.relation`` gives), its superlative (``the largest triangle``: no other triangle is as
  large), its count (``one of two red stars``: exactly two red stars; ``the only red star``:
  exactly one);
- *referring*: true of the target and of no other object of its image.

A caption outside the shapes grammar (``captions`` module) is *unparsed* and neither. The GT
captions are all true and referring exactly where ``extra_info.referring`` says so.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lavis_dynrefer.data.annotations import RegionAnnotation, RegionAnnotationFile
from lavis_dynrefer.shapes.captions import extremeness
from lavis_dynrefer.shapes.facts import COLUMNS, RELATIONS, ROWS, ObjectFacts, relation
from lavis_dynrefer.shapes.language import (
    GENERIC_NOUN,
    GENERIC_PLURAL,
    NUMBER_WORDS,
    PLURALS,
    SUPERLATIVES,
    NounPhrase,
    position_words,
)
from lavis_dynrefer.shapes.scene import COLOR_NAMES, FILL_NAMES, SIZE_NAMES

KINDS = ("plain", "position", "relation", "superlative", "count", "definite", "unparsed")
_MODIFIERS = {**{w: "size" for w in SIZE_NAMES}, **{w: "fill" for w in FILL_NAMES},
              **{w: "color" for w in COLOR_NAMES}}
_SINGULAR = {**{shape: shape for shape in PLURALS}, GENERIC_NOUN: None}
_PLURAL = {**{plural: shape for shape, plural in PLURALS.items()}, GENERIC_PLURAL: None}
_CELLS = {tuple(position_words(r, c)): (r, c)
          for r, c in itertools.product(range(len(ROWS)), range(len(COLUMNS)))}
_NUMBERS = {word: number for number, word in NUMBER_WORDS.items()}


@dataclasses.dataclass(frozen=True)
class ParsedCaption:
    """What a caption states. ``subject`` describes the target (with its superlative, if any);
    ``number`` is the count of objects ``subject`` describes (``the only``: 1)."""

    kind: str
    subject: NounPhrase | None = None
    cell: tuple[int, int] | None = None
    relation: str | None = None
    anchor: NounPhrase | None = None
    number: int | None = None


UNPARSED = ParsedCaption("unparsed")


def parse_noun_phrase(words: Sequence[str], plural: bool = False) -> NounPhrase | None:
    """``[size] [fill] [color] noun`` (modifiers in any order, each kind at most once), or None."""
    if not words:
        return None
    nouns = _PLURAL if plural else _SINGULAR
    if words[-1] not in nouns:
        return None
    named: dict[str, str] = {}
    for word in words[:-1]:
        kind = _MODIFIERS.get(word)
        if kind is None or kind in named:
            return None
        named[kind] = word
    return NounPhrase(shape=nouns[words[-1]], **named)


def _definite(words: Sequence[str]) -> ParsedCaption:
    """A caption starting with ``the``: only, superlative, position, relation or bare."""
    if words[:1] == ["only"]:
        subject = parse_noun_phrase(words[1:])
        return ParsedCaption("count", subject, number=1) if subject else UNPARSED
    if words[:1] and words[0] in SUPERLATIVES:
        subject = parse_noun_phrase(words[1:])
        if subject is None:
            return UNPARSED
        return ParsedCaption("superlative", dataclasses.replace(subject, superlative=words[0]))
    for phrase, cell in _CELLS.items():
        if tuple(words[-len(phrase):]) == phrase:
            subject = parse_noun_phrase(words[:-len(phrase)])
            if subject is not None:
                return ParsedCaption("position", subject, cell=cell)
    for word in RELATIONS:
        split = word.split()
        for i in range(1, len(words)):
            if words[i:i + len(split)] == split and words[i + len(split): i + len(split) + 1] \
                    == ["the"]:
                subject = parse_noun_phrase(words[:i])
                anchor = parse_noun_phrase(words[i + len(split) + 1:])
                if subject is not None and anchor is not None:
                    return ParsedCaption("relation", subject, relation=word, anchor=anchor)
    subject = parse_noun_phrase(words)
    return ParsedCaption("definite", subject, number=1) if subject else UNPARSED


def parse_caption(caption: str) -> ParsedCaption:
    """What a shapes-world caption states (``UNPARSED`` outside the grammar)."""
    words = caption.lower().split()
    if words[:1] in (["a"], ["an"]):
        subject = parse_noun_phrase(words[1:])
        return ParsedCaption("plain", subject) if subject else UNPARSED
    if words[:2] == ["one", "of"] and len(words) > 2 and words[2] in _NUMBERS:
        subject = parse_noun_phrase(words[3:], plural=True)
        return (ParsedCaption("count", subject, number=_NUMBERS[words[2]]) if subject
                else UNPARSED)
    if words[:1] == ["the"]:
        return _definite(words[1:])
    return UNPARSED


def holds(parsed: ParsedCaption, target: ObjectFacts, objects: Sequence[ObjectFacts],
          size: int) -> bool:
    """Whether every fact ``parsed`` states holds for ``target`` among ``objects``."""
    if parsed.subject is None or not parsed.subject.matches(target):
        return False
    described = [o for o in objects if parsed.subject.matches(o)]
    if parsed.kind == "position":
        return target.cell == parsed.cell
    if parsed.kind == "relation":
        anchors = [o for o in objects if o.index != target.index and parsed.anchor.matches(o)]
        return len(anchors) == 1 and relation(target, anchors[0]) == parsed.relation
    if parsed.kind == "superlative":
        key, _ = extremeness(parsed.subject.superlative, size)
        return all(key(target) > key(o) for o in described if o.index != target.index)
    if parsed.number is not None:  # count and bare definite captions
        return len(described) == parsed.number
    return True  # plain


def object_facts(annotation: RegionAnnotation) -> ObjectFacts:
    """An annotation's object as captions see it (``index`` = the annotation id).

    Raises:
        ValueError: the annotation lacks the shapes world's facts (an old or foreign file).
    """
    info = annotation.extra_info or {}
    missing = [k for k in ("shape", "color", "size", "fill", "position", "center", "radius",
                           "in_front_of", "behind") if k not in info]
    if missing:
        raise ValueError(f"annotation {annotation.id}: extra_info lacks {missing}; caption truth "
                         "needs a shapes-world file from `python -m lavis_dynrefer.shapes`")
    row, column = info["position"].split()
    return ObjectFacts(index=annotation.id, shape=info["shape"], color=info["color"],
                       size=info["size"], fill=info["fill"], rgb=tuple(info.get("rgb", (0, 0, 0))),
                       cx=float(info["center"][0]), cy=float(info["center"][1]),
                       radius=float(info["radius"]), box=tuple(int(v) for v in annotation.bbox),
                       visible=float(info.get("visible", 1.0)),
                       above=frozenset(info["in_front_of"]), below=frozenset(info["behind"]),
                       row=ROWS.index(row), column=COLUMNS.index(column))


@dataclasses.dataclass(frozen=True)
class CaptionJudgement:
    """The verdict on one caption: its kind (as written) and whether it is true / referring."""

    id: int
    kind: str
    true: bool
    referring: bool
    subject_true: bool


def judge(gt: RegionAnnotationFile, captions: Mapping[int, str]) -> list[CaptionJudgement]:
    """Judge the caption of every GT region that has one (``captions``: annotation id -> text).

    Raises:
        ValueError: a caption for an id the GT file does not have.
    """
    unknown = set(captions) - {a.id for a in gt.annotations}
    if unknown:
        raise ValueError(f"captions for annotation ids not in {gt.source}: "
                         f"{sorted(unknown)[:5]}")
    sizes = {image.id: max(image.width, image.height) for image in gt.images}
    verdicts = []
    for image_id, image_annotations in gt.annotations_by_image.items():
        objects = [object_facts(a) for a in image_annotations]
        for target in objects:
            if target.index not in captions:
                continue
            parsed = parse_caption(captions[target.index])
            size = sizes[image_id]
            true = holds(parsed, target, objects, size)
            referring = true and not any(holds(parsed, o, objects, size) for o in objects
                                         if o.index != target.index)
            subject_true = parsed.subject is not None and parsed.subject.matches(target)
            verdicts.append(CaptionJudgement(target.index, parsed.kind, true, referring,
                                             subject_true))
    return verdicts


def _shares(verdicts: Iterable[CaptionJudgement]) -> dict[str, float]:
    verdicts = list(verdicts)
    count = max(len(verdicts), 1)
    return {"captions": len(verdicts),
            "true": 100.0 * sum(v.true for v in verdicts) / count,
            "referring": 100.0 * sum(v.referring for v in verdicts) / count,
            "subject_true": 100.0 * sum(v.subject_true for v in verdicts) / count}


def caption_truth(gt: RegionAnnotationFile, records: Iterable[Mapping[str, Any]]
                  ) -> dict[str, Any]:
    """Caption truth of result records (``id`` and ``caption`` each) against a shapes GT file.

    Returns:
        ``{"captions", "true", "referring", "subject_true", "by_kind": {kind: {...}}}``:
        percentages overall and per kind of caption written (``KINDS``; ``definite`` is a bare
        ``the ...`` phrase, ``unparsed`` outside the grammar).
    """
    verdicts = judge(gt, {int(r["id"]): str(r["caption"]) for r in records})
    by_kind = {kind: _shares(v for v in verdicts if v.kind == kind) for kind in KINDS
               if any(v.kind == kind for v in verdicts)}
    return {**_shares(verdicts), "by_kind": by_kind}
