"""Noun and adjective phrases of a caption: DynRefer's tag targets and control words.

method.md section 3: the tagging decoder learns the tags parsed from a region's caption, and the
language decoder's control words are the caption's noun/adjective phrases. The authors' release
parsed captions with a scene-graph parser and with TextBlob; this module follows the same idea
with one deterministic scheme that runs offline:

1. Tokenize: lower-case, keep runs of letters/digits (inner hyphens kept), drop other punctuation;
   a possessive ``'s`` becomes its own token.
2. Part-of-speech tag with TextBlob's bundled Brill-style tagger (``textblob.en.tag``, the
   *pattern* lexicon shipped inside the ``textblob`` wheel: no NLTK corpus, no model download).
3. Noun phrase = adjectives followed by nouns, ``JJ* NN+`` (Penn tags), maximal; a determiner,
   verb, preposition, conjunction or number ends it. The head is its last noun, singularized
   when plural (``trees`` -> ``tree``), except nouns that only exist in the plural
   (``pants``, ``glasses``, ...) and ``people``.
4. Phrases of a noun phrase ``m1 .. mk head``: every suffix ending at the head
   (``head``, ``mk head``, ..., ``m1 .. mk head``) and every modifier word alone.
   Every adjective of the caption is also a phrase on its own (``the sign is red`` -> ``red``).

Example: ``"the small red car on the road"`` ->
``["car", "red", "red car", "road", "small", "small red car"]``.

Phrases are returned sorted, so results are reproducible (the release relied on set order).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

NOUN_TAGS = frozenset({"NN", "NNS", "NNP", "NNPS"})
PLURAL_NOUN_TAGS = frozenset({"NNS", "NNPS"})
ADJECTIVE_TAGS = frozenset({"JJ", "JJR", "JJS"})

# Plurals kept as written: the rule-based singularizer would cut them ("pants" -> "pant",
# "glasses" -> "glass"), and "people" is a tag of its own in tag lists such as RAM's.
KEPT_PLURALS = frozenset({
    "binoculars", "boxers", "clothes", "earphones", "eyeglasses", "glasses", "goggles",
    "headphones", "jeans", "leggings", "overalls", "pajamas", "pants", "people", "pliers",
    "scissors", "shorts", "spectacles", "stairs", "sunglasses", "suspenders", "tights", "tongs",
    "trousers", "tweezers",
})

_TOKEN_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*|'s\b")
_CACHE_SIZE = 1 << 18  # VG repeats phrases a lot ("white clouds in blue sky"); cache the parses


def tokenize(caption: str) -> list[str]:
    """Lower-cased word tokens of a caption; punctuation dropped, ``'s`` split off.

    >>> tokenize("The man's T-shirt, (blue)!")
    ['the', 'man', "'s", 't-shirt', 'blue']
    """
    return _TOKEN_RE.findall(caption.lower().replace("\u2019", "'"))


def pos_tag(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """Penn Treebank tags for already-split tokens, one pair per token.

    Uses TextBlob's bundled pattern tagger (lexicon + contextual rules), which needs no download.
    """
    if not tokens:
        return []
    from textblob.en import tag  # deferred: importing TextBlob pulls in NLTK (about 1 s)

    tagged = tag(" ".join(tokens), tokenize=False)
    if [word for word, _ in tagged] != list(tokens):
        raise RuntimeError(f"tagger changed the tokens {list(tokens)} into {tagged}")
    return [(word, pos) for word, pos in tagged]


def singular(noun: str) -> str:
    """Singular form of a plural noun; ``KEPT_PLURALS`` (``pants``, ``people``) stay as they are."""
    if noun in KEPT_PLURALS:
        return noun
    from textblob.en.inflect import singularize  # deferred, see pos_tag

    return singularize(noun)


def noun_phrases(tagged: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Maximal ``JJ* NN+`` runs of a tagged caption, in caption order."""
    phrases: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for word, pos in tagged:
        if pos in ADJECTIVE_TAGS and current and current[-1][1] in NOUN_TAGS:
            phrases.append(current)  # "blue shirt white pants": a new phrase starts at "white"
            current = []
        if pos in ADJECTIVE_TAGS or pos in NOUN_TAGS:
            current.append((word, pos))
            continue
        if current:
            phrases.append(current)
        current = []
    if current:
        phrases.append(current)
    # A run of adjectives alone ("black and white") is no noun phrase; its adjectives still count.
    return [phrase for phrase in phrases if phrase[-1][1] in NOUN_TAGS]


def phrases_from_tagged(tagged: Sequence[tuple[str, str]]) -> list[str]:
    """The phrase set of a tagged caption (module docstring, steps 3 and 4), sorted."""
    found = {word for word, pos in tagged if pos in ADJECTIVE_TAGS}
    for phrase in noun_phrases(tagged):
        head, head_pos = phrase[-1]
        if head_pos in PLURAL_NOUN_TAGS:
            head = singular(head)
        modifiers = [word for word, _ in phrase[:-1]]
        found.update(modifiers)
        for start in range(len(modifiers) + 1):
            found.add(" ".join([*modifiers[start:], head]))
    return sorted(found)


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_cached(caption: str) -> tuple[str, ...]:
    return tuple(phrases_from_tagged(pos_tag(tokenize(caption))))


def parse_phrases(caption: str) -> list[str]:
    """Sorted noun and adjective phrases of one caption (see the module docstring).

    >>> parse_phrases("the small red car on the road")
    ['car', 'red', 'red car', 'road', 'small', 'small red car']
    """
    return list(_parse_cached(caption))
