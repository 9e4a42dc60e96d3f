"""Pure-Python stand-ins for the Java caption scorers (METEOR), for tests that need metrics
that depend on the captions without starting a JVM."""

from __future__ import annotations

from collections.abc import Sequence


def words(text: str) -> set[str]:
    return set(text.lower().replace(".", " ").split())


def overlap(candidate: str, references: Sequence[str]) -> float:
    """Best unigram F1 of the candidate against a reference: a pure-Python METEOR stand-in."""
    best = 0.0
    for reference in references:
        common = len(words(candidate) & words(reference))
        if common:
            p, r = common / len(words(candidate)), common / len(words(reference))
            best = max(best, 2 * p * r / (p + r))
    return best


def pair_scores(pairs: Sequence[tuple[str, Sequence[str]]]) -> list[float]:
    """A ``CaptionPairScorer``: ``overlap`` of each (candidate, references) pair."""
    return [overlap(candidate, references) for candidate, references in pairs]
