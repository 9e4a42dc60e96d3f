"""Grounded captions, PixelLLM's idea at box level: every noun phrase of a caption, with its
character span, gets the candidate box it refers to and that box's score.

Noun phrases are maximal runs of an optional determiner and modifiers ending in a noun (the
project's offline tagger, ``data.phrases.pos_tag``), with two cuts: a spatial noun followed by
``of`` (``right of``, ``top of``, ``in front of``) is a relation, not part of the phrase before
it, and a number word starts a count (``one of four circles``: ``four circles``); a word the
tagger calls a verb right after a determiner or adjective is a noun (``the cross``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lavis_dynrefer.data.phrases import pos_tag
from lavis_dynrefer.grounding.scores import region_text_scores

SPATIAL_NOUNS = frozenset({"left", "right", "top", "bottom", "front", "back", "side", "middle",
                           "center", "centre", "edge", "corner"})
DETERMINERS = frozenset({"a", "an", "the", "this", "that", "these", "those", "its", "his", "her",
                         "their", "two", "three", "four", "five", "several", "some"})
MODIFIER_TAGS = frozenset({"JJ", "JJR", "JJS", "VBN", "NN", "NNS", "NNP", "NNPS", "CD"})
NOUN_TAGS = frozenset({"NN", "NNS", "NNP", "NNPS"})
_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")


@dataclass(frozen=True)
class Span:
    """A noun phrase: ``caption[start:end] == text``."""

    start: int
    end: int
    text: str


def noun_phrase_spans(caption: str) -> list[Span]:
    """The caption's noun phrases in order (module docstring).

    >>> [s.text for s in noun_phrase_spans("the blue shape above the small blue shape")]
    ['the blue shape', 'the small blue shape']
    >>> [s.text for s in noun_phrase_spans("a man riding a brown horse on the beach")]
    ['a man', 'a brown horse', 'the beach']
    """
    words = list(_WORD_RE.finditer(caption))
    if not words:
        return []
    tags = [tag for _, tag in pos_tag([m.group().lower() for m in words])]
    spans, start = [], None
    last_noun = None

    def close() -> None:
        nonlocal start, last_noun
        if start is not None and last_noun is not None:
            s, e = words[start].start(), words[last_noun].end()
            spans.append(Span(s, e, caption[s:e]))
        start, last_noun = None, None

    for i, (match, tag) in enumerate(zip(words, tags)):
        word = match.group().lower()
        following = words[i + 1].group().lower() if i + 1 < len(words) else ""
        if word in SPATIAL_NOUNS and following == "of":
            close()  # "right of": a relation
            continue
        if word in DETERMINERS and tag in ("DT", "CD", "PRP$", "JJ"):
            close()
            start = i
            continue
        if start is not None and tag in ("VB", "VBP") and tags[i - 1] not in NOUN_TAGS:
            tag = "NN"  # right after a determiner or adjective a "verb" is a noun: "the cross"
        if tag in MODIFIER_TAGS:
            if start is None:
                start = i
            if tag in NOUN_TAGS:
                last_noun = i
            continue
        close()
    close()
    return spans


def ground_caption(model: Any, samples: dict[str, Any], boxes: list[list[float]],
                   caption: str) -> list[dict[str, Any]]:
    """Each noun phrase of ``caption``: ``phrase``, ``span`` [start, end), the best candidate
    ``box`` and its ``score`` (the SigLIP probability), ``index`` of that candidate.

    Args:
        model: a ``DynReferModel``.
        samples: ``image`` [R, V, 3, S, S] and ``region_boxes`` [R, V, 4] of the candidates.
        boxes: the R candidate boxes in image pixels, in the same order.
        caption: a given caption, or one the model wrote for one of the regions.
    """
    spans = noun_phrase_spans(caption)
    if not spans:
        return []
    scores = region_text_scores(model, samples["image"], samples["region_boxes"],
                                [span.text for span in spans])
    out = []
    for k, span in enumerate(spans):
        best = int(scores[:, k].argmax())
        out.append({"phrase": span.text, "span": [span.start, span.end], "box": boxes[best],
                    "index": best, "score": float(scores[best, k])})
    return out
