"""Result records (data-and-metrics.md section 2) from a batch and the model's predictions.

The region's identity (``id``, ``image_id``, ``bbox``) comes from the batch, the authority on which
region was asked; the predicted fields come from ``predict_answers``. Values are converted to plain
Python (tensors and numpy scalars are not JSON-able) and every record is checked against the
result contract, so a bad record fails in ``valid_step``, not after a whole evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lavis_dynrefer.evaluation import parse_results

# Fields every region task writes; tasks add "attr" (OVAD) or "cls" (recognition).
COMMON_FIELDS = ("id", "image_id", "bbox", "caption", "score", "tags")
IDENTITY_FIELDS = ("id", "image_id", "bbox")


def _plain(value: Any) -> Any:
    """Tensor / numpy value -> Python scalar or (nested) list; anything else unchanged."""
    return value.tolist() if hasattr(value, "tolist") else value


def _int_or_none(value: Any) -> int | None:
    value = _plain(value)
    return None if value is None else int(value)


def _floats(value: Any) -> list[float]:
    return [float(v) for v in _plain(value)]


_CONVERT = {
    "id": _int_or_none,
    "image_id": lambda v: int(_plain(v)),
    "bbox": _floats,
    "caption": str,
    "score": lambda v: float(_plain(v)),
    "tags": lambda v: [str(t) for t in v],
    "attr": _floats,
    "cls": _floats,
}


def result_records(samples: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]],
                   extra_fields: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One result record per region of the batch.

    Args:
        samples: the eval batch; ``id``, ``image_id``, ``bbox`` hold R values each.
        predictions: R dicts from ``predict_answers`` (``caption``, ``score``, ``tags``, and
            the ``extra_fields``).
        extra_fields: predicted fields this task writes besides the common ones.

    Returns:
        R records with exactly ``COMMON_FIELDS + extra_fields``, in that order.
    """
    identities = {key: list(_plain(samples[key])) for key in IDENTITY_FIELDS if key in samples}
    missing = sorted(set(IDENTITY_FIELDS) - set(identities))
    if missing:
        raise KeyError(f"the eval batch lacks {missing} (have {sorted(samples)})")
    sizes = {key: len(values) for key, values in identities.items()}
    if set(sizes.values()) != {len(predictions)}:
        raise ValueError(f"{len(predictions)} predictions for a batch of {sizes} regions")
    records = []
    for index, prediction in enumerate(predictions):
        record = {}
        for key in (*COMMON_FIELDS, *extra_fields):
            if key in identities:
                value = identities[key][index]
            elif key in prediction:
                value = prediction[key]
            else:
                raise KeyError(f"prediction {index} lacks {key!r} (has {sorted(prediction)})"
                               + ("; was the model given attributes / classes?"
                                  if key in ("attr", "cls") else ""))
            record[key] = _CONVERT[key](value)
        records.append(record)
    parse_results(records, "valid_step")
    return records
