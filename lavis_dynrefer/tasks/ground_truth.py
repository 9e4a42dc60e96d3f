"""The evaluated split's GT file, and what the model needs to know of it before predicting.

The eval dataset exposes ``annotations`` (a ``RegionAnnotationFile``) and ``annotation_path``; the
task reaches it through whatever LAVIS wraps it in (``PrefetchLoader``, ``DataLoader``,
``ConcatDataset``/``ChainDataset``, a ``Subset``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

from lavis_dynrefer.data.annotations import RegionAnnotationFile

logger = logging.getLogger(__name__)

# Attributes through which loaders and dataset wrappers reach what they wrap.
_WRAPPED = ("loader", "_loader", "_dataloader", "dataset", "datasets", "loaders")
_DEFAULT_IS_HAS = "is"
_warned_is_has: set[str] = set()


def find_annotated_dataset(source: Any) -> Any | None:
    """The dataset with ``.annotations`` (a ``RegionAnnotationFile``) inside ``source``.

    Args:
        source: a dataset, a data loader, or any LAVIS / torch wrapper of them.

    Returns:
        The dataset, or None if none is reachable.

    Raises:
        ValueError: the wrappers hold datasets of different GT files (one evaluation scores
            against one GT file).
    """
    found: list[Any] = []
    seen: set[int] = set()
    pending = [source]
    while pending:
        item = pending.pop(0)
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(getattr(item, "annotations", None), RegionAnnotationFile):
            found.append(item)
            continue
        for name in _WRAPPED:
            inner = getattr(item, name, None)
            pending.extend(inner if isinstance(inner, (list, tuple)) else [inner])
    sources = {dataset.annotations.source for dataset in found}
    if len(sources) > 1:
        raise ValueError(f"the evaluated data holds several GT files {sorted(sources)}; "
                         f"evaluate one GT file per split")
    return found[0] if found else None


def attribute_specs(gt: RegionAnnotationFile) -> list[dict[str, str]]:
    """``model.set_attributes`` input: GT attributes in file order, ``name`` and ``is_has_att``.

    An attribute without ``is_has_att`` gets "is" (OVAD's prompt family for most attributes);
    that is logged once per GT file.
    """
    if not gt.attributes:
        raise ValueError(f"{gt.source}: no 'attributes' (or 'attrs'), so no attribute scores")
    missing = [a.name for a in gt.attributes if a.is_has_att is None]
    if missing and gt.source not in _warned_is_has:
        _warned_is_has.add(gt.source)
        logger.warning("%s: %d of %d attributes have no 'is_has_att'; using %r prompts for "
                       "them (first: %s)", gt.source, len(missing), len(gt.attributes),
                       _DEFAULT_IS_HAS, missing[0])
    return [{"name": a.name, "is_has_att": a.is_has_att or _DEFAULT_IS_HAS}
            for a in gt.attributes]


def set_attributes_from(model: Any, gt: RegionAnnotationFile) -> None:
    """Make ``model.predict_answers`` score the GT file's attributes, in its order."""
    specs = attribute_specs(gt)
    logger.info("scoring %d attributes of %s", len(specs), gt.source)
    model.set_attributes(specs)


def set_classes_from(model: Any, gt: RegionAnnotationFile) -> None:
    """Make ``model.predict_answers`` give logits of the GT file's categories, in its order."""
    if not gt.categories:
        raise ValueError(f"{gt.source}: no 'categories', so no class logits")
    logger.info("classifying into %d categories of %s", len(gt.categories), gt.source)
    model.set_classes([category.name for category in gt.categories])


@contextlib.contextmanager
def tag_threshold(model: Any, threshold: float | None) -> Iterator[None]:
    """Within the block, ``model.config.tag_threshold`` is ``threshold`` (None: unchanged).

    The model config is a frozen dataclass, so it is replaced, and restored afterwards.
    """
    if threshold is None:
        yield
        return
    original = model.config
    model.config = dataclasses.replace(original, tag_threshold=threshold)
    logger.info("tag threshold %g for this evaluation (model default %g)", threshold,
                original.tag_threshold)
    try:
        yield
    finally:
        model.config = original
