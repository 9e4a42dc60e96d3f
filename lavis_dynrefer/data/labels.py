"""The labels file of a model (``model.labels``): the attributes and classes its ``attr`` and
``cls`` outputs score, as the ``attributes`` / ``categories`` lists of an annotation file."""

from __future__ import annotations

import json
from typing import Any

from lavis_dynrefer.paths import resolve_path


def read_labels(path: str) -> dict[str, Any]:
    """The JSON object of ``path`` (found as yaml paths are: ``paths.resolve_path``).

    Raises:
        FileNotFoundError: naming the path and where it was looked for.
        ValueError: naming the file, when it is not a JSON object with ``attributes`` and/or
            ``categories``.
    """
    with open(resolve_path(path), encoding="utf-8") as handle:
        labels = json.load(handle)
    if not isinstance(labels, dict) or not ({"attributes", "categories"} & set(labels)):
        raise ValueError(f"{path}: expected a JSON object with 'attributes' and/or "
                         "'categories'")
    return labels
