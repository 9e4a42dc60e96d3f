"""Region captioning: results are paired with GT annotations by id; mismatches fail loudly."""

from __future__ import annotations

import pytest

from lavis_dynrefer.evaluation.region_caption import evaluate_region_caption
from lavis_dynrefer.evaluation.results import ResultFormatError

GT = [{"id": 7, "image_id": 1, "bbox": [0, 0, 10, 10], "caption": "a red car"},
      {"id": 3, "image_id": 2, "bbox": [5, 5, 20, 20], "caption": "a dog on grass"}]


class FixedScorer:
    """Returns fixed corpus metrics and records what it was asked to score."""

    def __init__(self):
        self.calls = []

    def __call__(self, references, candidates):
        self.calls.append((dict(references), dict(candidates)))
        return {"METEOR": 0.125, "CIDEr": 1.5, "BLEU_4": 0.25, "ROUGE_L": 0.5}


def test_pairs_by_id_and_scales_by_100(make_gt, make_results):
    scorer = FixedScorer()
    results = make_results([{"id": 3, "caption": "dog"}, {"id": 7, "caption": "car"}])
    metrics = evaluate_region_caption(make_gt(GT), results, scorer=scorer)
    assert metrics == {"METEOR": 12.5, "CIDEr": 150.0, "BLEU_4": 25.0, "ROUGE_L": 50.0}
    assert scorer.calls == [({7: ["a red car"], 3: ["a dog on grass"]}, {7: "car", 3: "dog"})]


@pytest.mark.parametrize(("records", "message"), [
    ([{"id": 7, "caption": "car"}],
     r"results in res.json do not match the annotations of gt.json: "
     r"1 GT annotation id\(s\) have no result: \[3\]"),
    ([{"id": 7, "caption": "car"}, {"id": 3, "caption": "dog"}, {"id": 8, "caption": "x"}],
     r"1 result id\(s\) are not GT annotation ids: \[8\]"),
    ([{"id": 7, "caption": "car"}, {"id": 9, "caption": "x"}],
     r"have no result: \[3\]; 1 result id\(s\) are not GT annotation ids: \[9\]"),
    ([{"id": 7, "caption": "car"}, {"id": 7, "caption": "x"}, {"id": 3, "caption": "dog"}],
     r"res.json: record 1 \(id 7\): duplicate id 7 \(also record 0\)"),
    ([{"id": None, "caption": "car"}, {"id": 3, "caption": "dog"}],
     r"res.json: record 0: missing 'id', which this task needs"),
    ([{"id": 7, "caption": "car"}, {"id": 3}],
     r"res.json: record 1 \(id 3\): missing 'caption'"),
    ([], r"2 GT annotation id\(s\) have no result: \[7, 3\]"),
])
def test_result_ids_must_match_gt(make_gt, make_results, records, message):
    scorer = FixedScorer()
    with pytest.raises(ResultFormatError, match=message):
        evaluate_region_caption(make_gt(GT), make_results(records), scorer=scorer)
    assert scorer.calls == []  # no silent partial score
