"""Control words: the phrase/tag prefix the language decoder is conditioned on (method.md 3.iii).

Training: the caption's noun/adjective phrases plus those of its ground-truth tags the caption
says (``control_word_candidates``), as a set; with
probability ``drop_all_p`` none are kept, otherwise each is kept with probability ``keep_p``;
the kept ones are shuffled and joined with "," and the separator "|" ends the prefix
("red car,car|" or just "|"). Inference: the predicted tags in descending score order (the
release relies on Python set order; a fixed order makes captions reproducible).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

SEPARATOR = "|"
JOINER = ","


def join_control_words(words: Sequence[str]) -> str:
    """["red car", "car"] -> "red car,car|"; [] -> "|"."""
    return JOINER.join(words) + SEPARATOR


def training_control_words(candidates: Iterable[str], drop_all_p: float = 0.5,
                           keep_p: float = 0.5, generator: torch.Generator | None = None) -> str:
    """Sample the control-word prefix of one training region.

    Args:
        candidates: phrases and tags of the region (duplicates count once).
        drop_all_p: probability of keeping none.
        keep_p: probability of keeping each, otherwise.
        generator: torch RNG (default: the global one, seeded by the runner).
    """
    words = sorted({w.strip() for w in candidates if w and w.strip()})
    if not words or torch.rand((), generator=generator).item() < drop_all_p:
        return SEPARATOR
    keep = torch.rand(len(words), generator=generator) < keep_p
    kept = [w for w, k in zip(words, keep.tolist()) if k]
    order = torch.randperm(len(kept), generator=generator).tolist()
    return join_control_words([kept[i] for i in order])


def control_word_candidates(caption: str, phrases: Sequence[str], tags: Sequence[str]
                            ) -> list[str]:
    """A training region's control-word candidates: its caption's phrases and those of its tags
    that the caption says (whole words, in order).

    In the release the tags are parsed from the caption, so every control word is part of the
    caption and the decoder learns to say what the control words say; at inference the
    predicted tags then steer the caption. Tags that describe the region but not its caption
    (the shapes world's own tags) would teach it to ignore them, so they are left out.
    """
    words = f" {' '.join(caption.lower().split())} "
    said = [tag for tag in tags if f" {' '.join(tag.lower().split())} " in words]
    return [*phrases, *said]


def inference_control_words(tags: Sequence[str], scores: Sequence[float]) -> str:
    """Predicted tags by descending score (ties by name), joined."""
    ranked = sorted(zip(tags, scores), key=lambda pair: (-pair[1], pair[0]))
    return join_control_words([tag for tag, _ in ranked])
