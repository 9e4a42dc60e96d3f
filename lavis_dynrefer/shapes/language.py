"""The shapes world's closed language: noun phrases, position phrases, vocabulary and tags.

A noun phrase is ``[superlative] [size] [fill] [color] noun``, where the noun is the shape class
or the generic ``shape`` (then a colour is always named). Its *phrases* (the control words of
data/phrases.py) follow that module's scheme: every suffix ending at the noun,
and every modifier alone; the noun is always singular there, even where the caption says
"two red stars". A region's *tags* (``own_tags``) are not its caption's phrases: they describe
the object itself (a relation caption's phrases also name the object it is related to).
"""

from __future__ import annotations

import dataclasses
import itertools

from lavis_dynrefer.shapes.facts import COLUMNS, RELATIONS, ROWS, ObjectFacts
from lavis_dynrefer.shapes.scene import COLOR_NAMES, FILL_NAMES, SHAPES, SIZE_NAMES

GENERIC_NOUN, GENERIC_PLURAL = "shape", "shapes"
PLURALS = {shape.name: shape.plural for shape in SHAPES}
DESCRIBED = ("color", "size", "fill")  # the object attributes a noun phrase may name
SUPERLATIVES = ("largest", "smallest", "leftmost", "rightmost", "topmost", "bottommost")
NUMBER_WORDS = {2: "two", 3: "three", 4: "four"}
ARTICLES = ("a", "an", "the")
COUNT_WORDS = ("one", "of", "only")
MAX_WORDS = 16


@dataclasses.dataclass(frozen=True)
class NounPhrase:
    """A description of an object; a None field is not mentioned (``shape=None``: "shape")."""

    shape: str | None = None
    color: str | None = None
    size: str | None = None
    fill: str | None = None
    superlative: str | None = None  # decided by the caption, not by ``matches``

    @property
    def specificity(self) -> int:
        """How many facts it names (the noun counts when it is a shape class)."""
        return sum(v is not None for v in (self.shape, self.color, self.size, self.fill))

    def matches(self, obj: ObjectFacts) -> bool:
        """Whether every fact it names holds for ``obj``."""
        return all(value is None or value == getattr(obj, key)
                   for key, value in (("shape", self.shape), *self._attributes()))

    def _attributes(self) -> tuple[tuple[str, str | None], ...]:
        return ("color", self.color), ("size", self.size), ("fill", self.fill)

    def modifiers(self) -> list[str]:
        """The adjectives, in caption order: superlative, size, fill, colour."""
        values = (self.superlative, self.size, self.fill, self.color)
        return [value for value in values if value is not None]

    def noun(self, plural: bool = False) -> str:
        if self.shape is None:
            return GENERIC_PLURAL if plural else GENERIC_NOUN
        return PLURALS[self.shape] if plural else self.shape

    def words(self, plural: bool = False) -> list[str]:
        return [*self.modifiers(), self.noun(plural)]

    def phrases(self) -> list[str]:
        """Every suffix ending at the (singular) noun, and every modifier alone."""
        words = self.words()
        return [" ".join(words[start:]) for start in range(len(words))] + self.modifiers()


def describe(obj: ObjectFacts, named: tuple[str, ...], with_shape: bool) -> NounPhrase:
    """The noun phrase naming ``obj``'s attributes ``named`` (and its shape if ``with_shape``)."""
    values = {key: getattr(obj, key) for key in named}
    return NounPhrase(shape=obj.shape if with_shape else None, **values)


def all_descriptions(obj: ObjectFacts) -> list[NounPhrase]:
    """Every noun phrase of ``obj`` (without superlative), least specific first."""
    phrases = []
    for count in range(len(DESCRIBED) + 1):
        for named in itertools.combinations(DESCRIBED, count):
            phrases.append(describe(obj, named, with_shape=True))
            if "color" in named:  # "the red shape", never the bare "the small shape"
                phrases.append(describe(obj, named, with_shape=False))
    return sorted(phrases, key=lambda p: p.specificity)


def article(words: list[str]) -> str:
    """``a`` or ``an`` before ``words``."""
    return "an" if words[0][0] in "aeiou" else "a"


def position_words(row: int, column: int) -> list[str]:
    """``in the top left corner``, ``at the top``, ``on the left``, ``in the center``, ..."""
    vertical, horizontal = ROWS[row], COLUMNS[column]
    if row != 1 and column != 1:
        return ["in", "the", vertical, horizontal, "corner"]
    if row == 1 and column == 1:
        return ["in", "the", "center"]
    if row == 1:
        return ["on", "the", horizontal]
    return ["at", "the", vertical]


def position_phrases(row: int, column: int) -> list[str]:
    """The noun phrase of ``position_words`` split as ``NounPhrase.phrases`` splits."""
    words = position_words(row, column)[2:]
    head = words[-1]
    suffixes = [" ".join(words[start:]) for start in range(len(words))]
    return suffixes + [word for word in words if word != head]


def vocabulary() -> list[str]:
    """Every word any caption can use, each once, in a fixed order (for a word tokenizer)."""
    cells = [(r, c) for r in range(len(ROWS)) for c in range(len(COLUMNS))]
    words = [
        *ARTICLES, *COUNT_WORDS, *NUMBER_WORDS.values(),
        *SUPERLATIVES, *SIZE_NAMES, *FILL_NAMES, *COLOR_NAMES,
        *(shape.name for shape in SHAPES), *PLURALS.values(), GENERIC_NOUN, GENERIC_PLURAL,
        *(word for rel in RELATIONS for word in rel.split()),
        *(word for cell in cells for word in position_words(*cell)),
    ]
    return list(dict.fromkeys(words))


def own_tags(shape: str, color: str, size: str, fill: str, row: int, column: int) -> list[str]:
    """The tags of one object: what it is and where it lies, never what a caption relates it to.

    Its shape, colour, size and fill, and the one-word position phrases of its cell (``top``,
    ``left``, ``corner``; ``center``; none for the middle of an edge besides the edge word).
    """
    position = [phrase for phrase in position_phrases(row, column) if " " not in phrase]
    return [color, shape, size, fill, *position]


def tag_list() -> list[str]:
    """The tag vocabulary: every tag ``own_tags`` can give, in a fixed order.

    Superlatives and the generic noun ``shape`` are not tags: they say how an object compares
    with others or how a caption names it, not what the object is.
    """
    cells = [(r, c) for r in range(len(ROWS)) for c in range(len(COLUMNS))]
    tags = [
        *COLOR_NAMES, *(shape.name for shape in SHAPES), *SIZE_NAMES, *FILL_NAMES,
        *(phrase for cell in cells for phrase in position_phrases(*cell) if " " not in phrase),
    ]
    return list(dict.fromkeys(tags))
