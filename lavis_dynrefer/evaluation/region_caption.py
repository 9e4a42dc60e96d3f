"""Region captioning (method.md section 6): one caption per GT box, COCO-caption metrics x100.

Each GT annotation is one sample whose single reference is its caption; the result with the same
``id`` is its candidate. pycocoevalcap's METEOR 1.5, CIDEr(-D), BLEU-4 and ROUGE-L are computed
after the PTB tokenizer, as ``COCOEvalCap`` does (SPICE is left out: it needs downloads).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lavis_dynrefer.data.annotations import RegionAnnotationFile
from lavis_dynrefer.evaluation.caption_scorers import CorpusCaptionScorer, coco_caption_scores
from lavis_dynrefer.evaluation.results import (
    PredictedRegion,
    align_to_annotations,
    require_fields,
)

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("id", "caption")
METRICS = ("METEOR", "CIDEr", "BLEU_4", "ROUGE_L")


def evaluate_region_caption(gt: RegionAnnotationFile, results: Sequence[PredictedRegion],
                            scorer: CorpusCaptionScorer | None = None) -> dict[str, float]:
    """Score one predicted caption per GT annotation.

    Args:
        gt: the annotation file; every annotation is one region with one reference caption.
        results: exactly one result per GT annotation, matched by ``id``.
        scorer: corpus metrics in [0, 1] from ({id: [reference]}, {id: candidate}); the default
            is pycocoevalcap after the PTB tokenizer (two JVM programs).

    Returns:
        {"METEOR", "CIDEr", "BLEU_4", "ROUGE_L"}, x100.

    Raises:
        ResultFormatError: a result lacks id/caption, or the result ids are not exactly the GT
            annotation ids.
    """
    if not gt.annotations:
        raise ValueError(f"{gt.source}: no annotations to evaluate")
    require_fields(results, REQUIRED_FIELDS)
    matched = align_to_annotations(gt, results)
    references = {ann.id: [ann.caption] for ann in gt.annotations}
    candidates = {ann.id: region.caption for ann, region in zip(gt.annotations, matched)}
    logger.info("region captioning: scoring %d regions", len(candidates))
    scores = (scorer or coco_caption_scores)(references, candidates)
    return {name: 100.0 * float(scores[name]) for name in METRICS}
