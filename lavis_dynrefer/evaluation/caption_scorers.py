"""pycocoevalcap scorers, called directly (``COCOEvalCap.evaluate()`` needs SPICE, which downloads).

Facts that shape this module (lavis-notes.md, "Evaluation tools"): METEOR 1.5 and the PTB
tokenizer are Java programs; METEOR's JVM takes ~9 s to start, so one JVM scores a whole
evaluation. The BLEU scorer prints to stdout; that text goes to the log instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import TypeVar

from lavis_dynrefer.evaluation.ptb_tokenizer import ptb_tokenize
from lavis_dynrefer.evaluation.quiet import stdout_to_log

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

# Scores (candidate, references) pairs, one float in [0, 1] per pair, all pairs in one call.
CaptionPairScorer = Callable[[Sequence[tuple[str, Sequence[str]]]], Sequence[float]]
# Corpus metrics from references {key: [ref, ...]} and candidates {key: caption}, each in [0, 1].
CorpusCaptionScorer = Callable[[Mapping[K, Sequence[str]], Mapping[K, str]], dict[str, float]]

METEOR_CHUNK = 5000  # pairs per METEOR "EVAL" line; keeps each line the JVM reads bounded


def _meteor_text(text: str) -> str:
    # METEOR's stdio protocol separates fields by "|||" and records by newlines.
    return " ".join(text.replace("|||", " ").split())


@contextlib.contextmanager
def _meteor() -> Iterator[object]:
    """One METEOR 1.5 JVM, closed on exit (its ``__del__`` alone may run late or never)."""
    from pycocoevalcap.meteor.meteor import Meteor

    logger.info("starting METEOR 1.5 (a JVM; ~9 s)")
    meteor = Meteor()
    try:
        yield meteor
    finally:
        with meteor.lock:
            meteor.meteor_p.stdin.close()
            meteor.meteor_p.kill()
            meteor.meteor_p.wait()


def meteor_pair_scores(pairs: Sequence[tuple[str, Sequence[str]]]) -> list[float]:
    """METEOR 1.5 (``-l en -norm``) of each (candidate, references) pair, with one JVM for all.

    This is DenseCap's caption similarity; it is the default ``CaptionPairScorer``.

    Args:
        pairs: P pairs; each needs at least one reference.

    Returns:
        [P] segment-level METEOR scores in [0, 1].
    """
    if not pairs:
        return []
    for index, (_, references) in enumerate(pairs):
        if not references:
            raise ValueError(f"caption pair {index} has no reference")
    scores: list[float] = []
    with _meteor() as meteor:
        for start in range(0, len(pairs), METEOR_CHUNK):
            chunk = pairs[start:start + METEOR_CHUNK]
            refs = {i: [_meteor_text(r) for r in references] for i, (_, references) in
                    enumerate(chunk)}
            cands = {i: [_meteor_text(candidate)] for i, (candidate, _) in enumerate(chunk)}
            _, chunk_scores = meteor.compute_score(refs, cands)
            scores.extend(float(s) for s in chunk_scores)
    return scores


def coco_caption_scores(references: Mapping[K, Sequence[str]], candidates: Mapping[K, str]
                        ) -> dict[str, float]:
    """COCO-caption corpus metrics after PTB tokenization: METEOR, CIDEr, BLEU_4, ROUGE_L.

    Args:
        references: key -> reference captions (at least one each).
        candidates: key -> the predicted caption; the same keys as ``references``.

    Returns:
        {"METEOR", "CIDEr", "BLEU_4", "ROUGE_L"} in pycocoevalcap's scale (CIDEr may exceed 1).
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    if set(references) != set(candidates):
        raise ValueError("references and candidates must have the same keys")
    if not references:
        raise ValueError("no captions to score")
    with _meteor() as meteor:  # its JVM starts up while the rest runs
        # One tokenizer run for both sides: keys are tagged with their side.
        tokens = ptb_tokenize({**{("ref", k): v for k, v in references.items()},
                               **{("cand", k): [c] for k, c in candidates.items()}})
        gts = {k: tokens[("ref", k)] for k in references}
        res = {k: tokens[("cand", k)] for k in references}
        with stdout_to_log("pycocoevalcap"):
            bleu, _ = Bleu(4).compute_score(gts, res)
            cider, _ = Cider().compute_score(gts, res)
            rouge, _ = Rouge().compute_score(gts, res)
        meteor_score, _ = meteor.compute_score(
            {k: [_meteor_text(r) for r in v] for k, v in gts.items()},
            {k: [_meteor_text(c) for c in v] for k, v in res.items()})
    return {"METEOR": float(meteor_score), "CIDEr": float(cider), "BLEU_4": float(bleu[3]),
            "ROUGE_L": float(rouge)}
