"""Region captions: referring expressions that often need the context outside the box.

Five kinds of caption (DynRefer's context views matter because a region's caption can depend on
what lies outside the region):

=============  ==========================================  ===================================
kind           example                                     context it needs
=============  ==========================================  ===================================
plain          ``a striped blue square``                   none (the box alone suffices)
position       ``the green star in the top left corner``   where the box lies in the image
relation       ``the small circle left of the blue square``  the neighbour and its place
superlative    ``the largest triangle``                    the other triangles
count          ``one of two yellow hexagons``,             the similar objects
               ``the only red circle``
=============  ==========================================  ===================================

Each caption is checked against the scene: a *referring* caption is true of its object and of no
other object (``one of two ...`` is true of both, so it is not referring). Captions of one image
are distinct strings whenever the scene allows it: a candidate already used by another object is
skipped. The kind is drawn per object (``KIND_WEIGHTS``); a kind that cannot describe the object
falls through to the next one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from lavis_dynrefer.shapes.facts import ObjectFacts, nearest, relation
from lavis_dynrefer.shapes.language import (
    DESCRIBED,
    MAX_WORDS,
    NUMBER_WORDS,
    SUPERLATIVES,
    NounPhrase,
    all_descriptions,
    article,
    position_phrases,
    position_words,
)

KINDS = ("plain", "position", "relation", "superlative", "count")
CONTEXT_KINDS = frozenset(KINDS) - {"plain"}
KIND_WEIGHTS = {"plain": 0.2, "position": 0.2, "relation": 0.3, "superlative": 0.15, "count": 0.15}
SIZE_MARGIN = math.log(1.2)  # "largest" needs 20 % more radius than the runner-up
POSITION_MARGIN = 0.05  # "leftmost" needs this fraction of the image side over the runner-up
ANCHOR_CANDIDATES = 2  # a relation names one of the nearest objects
EXTRA_ADJECTIVE_PROB = 0.4  # how often a caption names one fact more than it needs


@dataclasses.dataclass(frozen=True)
class Caption:
    """A caption of one object; ``anchor`` is the related object's index (relation kind)."""

    words: tuple[str, ...]
    kind: str
    referring: bool
    phrases: tuple[str, ...]
    relation: str | None = None
    anchor: int | None = None

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def needs_context(self) -> bool:
        return self.kind in CONTEXT_KINDS


@dataclasses.dataclass(frozen=True)
class CaptionContext:
    """The scene as captions see it: every object's facts and the image side in pixels."""

    objects: Sequence[ObjectFacts]
    size: int

    def matching(self, phrase: NounPhrase) -> list[ObjectFacts]:
        return [obj for obj in self.objects if phrase.matches(obj)]

    def only(self, phrase: NounPhrase, obj: ObjectFacts) -> bool:
        """Whether ``obj`` is the one object ``phrase`` describes."""
        return [o.index for o in self.matching(phrase)] == [obj.index]


def _caption(words: Sequence[str], kind: str, phrases: Sequence[str], referring: bool = True,
             **fields) -> Caption:
    return Caption(words=tuple(words), kind=kind, referring=referring,
                   phrases=tuple(sorted(set(phrases))), **fields)


def descriptions(obj: ObjectFacts, rng: np.random.Generator) -> list[NounPhrase]:
    """``all_descriptions`` of ``obj``, least specific first, shuffled within each specificity."""
    phrases = all_descriptions(obj)
    order = rng.permutation(len(phrases))
    return sorted((phrases[i] for i in order), key=lambda p: p.specificity)


def unique_description(ctx: CaptionContext, obj: ObjectFacts, rng: np.random.Generator
                       ) -> NounPhrase | None:
    """A least specific noun phrase that names ``obj`` alone, None for indistinguishable twins."""
    return next((p for p in descriptions(obj, rng) if ctx.only(p, obj)), None)


def elaborate(phrase: NounPhrase, obj: ObjectFacts, rng: np.random.Generator) -> NounPhrase:
    """Sometimes name one more fact of ``obj`` (never wrong, and a unique phrase stays unique)."""
    if rng.random() >= EXTRA_ADJECTIVE_PROB:
        return phrase
    missing = [key for key in ("shape", *DESCRIBED) if getattr(phrase, key) is None]
    if not missing:
        return phrase
    key = missing[int(rng.integers(len(missing)))]
    return dataclasses.replace(phrase, **{key: getattr(obj, key)})


def plain_caption(ctx: CaptionContext, obj: ObjectFacts, rng: np.random.Generator
                  ) -> Caption | None:
    """``a striped blue square``: the object's own looks, enough of them to single it out."""
    phrase = next((p for p in descriptions(obj, rng)
                   if p.shape is not None and p.specificity > 1 and ctx.only(p, obj)), None)
    if phrase is None:
        return None
    phrase = elaborate(phrase, obj, rng)
    words = phrase.words()
    return _caption([article(words), *words], "plain", phrase.phrases())


def position_caption(ctx: CaptionContext, obj: ObjectFacts, rng: np.random.Generator
                     ) -> Caption | None:
    """``the green star in the top left corner``: the description is unique within its cell."""
    for phrase in descriptions(obj, rng):
        same_cell = [o.index for o in ctx.matching(phrase) if o.cell == obj.cell]
        if same_cell == [obj.index]:
            phrase = elaborate(phrase, obj, rng)
            return _caption(["the", *phrase.words(), *position_words(*obj.cell)], "position",
                            phrase.phrases() + position_phrases(*obj.cell))
    return None


def relation_caption(ctx: CaptionContext, obj: ObjectFacts, rng: np.random.Generator
                     ) -> Caption | None:
    """``the small circle left of the blue square``: relative to a uniquely named neighbour."""
    anchors = nearest(ctx.objects, obj, ANCHOR_CANDIDATES)
    for position in rng.permutation(len(anchors)):
        anchor = anchors[int(position)]
        anchor_phrase = unique_description(ctx, anchor, rng)
        if anchor_phrase is None:
            continue
        word = relation(obj, anchor)
        for phrase in descriptions(obj, rng):
            related = [o.index for o in ctx.matching(phrase)
                       if o.index != anchor.index and relation(o, anchor) == word]
            if related == [obj.index]:
                phrase = elaborate(phrase, obj, rng)
                words = ["the", *phrase.words(), *word.split(), "the", *anchor_phrase.words()]
                return _caption(words, "relation", phrase.phrases() + anchor_phrase.phrases(),
                                relation=word, anchor=anchor.index)
    return None


def extremeness(superlative: str, size: int) -> tuple[Callable[[ObjectFacts], float], float]:
    """Key (larger = more extreme) and the margin the winner needs over the runner-up."""
    keys: dict[str, Callable[[ObjectFacts], float]] = {
        "largest": lambda o: math.log(o.radius), "smallest": lambda o: -math.log(o.radius),
        "leftmost": lambda o: -o.cx, "rightmost": lambda o: o.cx,
        "topmost": lambda o: -o.cy, "bottommost": lambda o: o.cy,
    }
    margin = SIZE_MARGIN if superlative in ("largest", "smallest") else POSITION_MARGIN * size
    return keys[superlative], margin


def superlative_caption(ctx: CaptionContext, obj: ObjectFacts, rng: np.random.Generator
                        ) -> Caption | None:
    """``the largest triangle``: the clear extreme of a group of two or more."""
    for phrase in descriptions(obj, rng):
        group = ctx.matching(phrase)
        if len(group) < 2 or phrase.specificity > 2:
            continue
        for position in rng.permutation(len(SUPERLATIVES)):
            superlative = SUPERLATIVES[int(position)]
            if phrase.size is not None and superlative in ("largest", "smallest"):
                continue  # "the largest small circle" reads as a contradiction
            key, margin = extremeness(superlative, ctx.size)
            runner_up = max(key(o) for o in group if o.index != obj.index)
            if key(obj) - runner_up >= margin:
                phrase = dataclasses.replace(phrase, superlative=superlative)
                return _caption(["the", *phrase.words()], "superlative", phrase.phrases())
    return None


def count_caption(ctx: CaptionContext, obj: ObjectFacts, rng: np.random.Generator
                  ) -> Caption | None:
    """``one of two yellow hexagons`` (not referring) or ``the only red circle`` (referring)."""
    options: list[Caption] = []
    phrases = descriptions(obj, rng)
    group_phrase = next((p for p in phrases if len(ctx.matching(p)) in NUMBER_WORDS), None)
    if group_phrase is not None:
        number = NUMBER_WORDS[len(ctx.matching(group_phrase))]
        options.append(_caption(["one", "of", number, *group_phrase.words(plural=True)], "count",
                                group_phrase.phrases(), referring=False))
    if len(ctx.objects) > 1:
        only = next((p for p in phrases if ctx.only(p, obj)), None)
        if only is not None:
            only = elaborate(only, obj, rng)
            options.append(_caption(["the", "only", *only.words()], "count", only.phrases()))
    return options[int(rng.integers(len(options)))] if options else None


BUILDERS: dict[str, Callable[[CaptionContext, ObjectFacts, np.random.Generator], Caption | None]]
BUILDERS = {"plain": plain_caption, "position": position_caption,
            "relation": relation_caption, "superlative": superlative_caption,
            "count": count_caption}


def kind_order(rng: np.random.Generator) -> list[str]:
    """All kinds in a random order where heavier kinds tend to come first (weighted shuffle)."""
    # Efraimidis-Spirakis: sorting u ** (1 / w) is sampling without replacement by weight.
    weights = np.array([KIND_WEIGHTS[kind] for kind in KINDS])
    keys = rng.random(len(KINDS)) ** (1.0 / weights)
    return [KINDS[int(i)] for i in np.argsort(-keys, kind="stable")]


def fallback_caption(ctx: CaptionContext, obj: ObjectFacts) -> Caption:
    """Everything the object looks like, referring or not (for indistinguishable twins)."""
    phrase = NounPhrase(shape=obj.shape, color=obj.color, size=obj.size, fill=obj.fill)
    words = phrase.words()
    return _caption([article(words), *words], "plain", phrase.phrases(),
                    referring=ctx.only(phrase, obj))


def choose_captions(objects: Sequence[ObjectFacts], size: int, rng: np.random.Generator
                    ) -> list[Caption]:
    """One caption per object (same order), distinct within the image where possible.

    Args:
        objects: the facts of every object of one image.
        size: the image side in pixels.
        rng: the only source of randomness.
    """
    ctx = CaptionContext(objects=objects, size=size)
    used: set[str] = set()
    captions = []
    for obj in objects:
        caption = None
        for kind in kind_order(rng):
            candidate = BUILDERS[kind](ctx, obj, rng)
            if (candidate is not None and candidate.text not in used
                    and len(candidate.words) <= MAX_WORDS):
                caption = candidate
                break
        caption = caption or fallback_caption(ctx, obj)
        used.add(caption.text)
        captions.append(caption)
    return captions
