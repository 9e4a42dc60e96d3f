"""Targets of the region-text decoder's label term: which class and attribute prompts hold.

Shape letters: R regions, C classes, M attribute prompts, A attributes.

A region with a ``category_id`` matches the prompt of its class and no other; a region with an
``att_vec`` (OVAD layout: 1 / 0 / -1 per attribute id) matches every prompt of its positive
attributes and none of its negative ones. Unknown labels (no category, an id outside the
model's classes, no att_vec, -1) are 0 and do not count.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def class_targets(category_ids: Sequence[int | None], class_ids: Sequence[int],
                  device: torch.device | str | None = None) -> torch.Tensor:
    """[R, C] +1 / -1 targets of the class prompts; a row of 0 for an unknown category."""
    position = {category: i for i, category in enumerate(class_ids)}
    targets = torch.zeros(len(category_ids), len(class_ids), device=device)
    for r, category in enumerate(category_ids):
        if category in position:
            targets[r] = -1.0
            targets[r, position[category]] = 1.0
    return targets


def attribute_targets(att_vecs: Sequence[Sequence[int] | None], attribute_index: torch.Tensor,
                      num_attributes: int, device: torch.device | str | None = None
                      ) -> torch.Tensor:
    """[R, M] targets of the attribute prompts from OVAD-style labels.

    Args:
        att_vecs: per region A labels (1 / 0 / -1) or None.
        attribute_index: [M] the attribute of each prompt.
        num_attributes: A.

    Raises:
        ValueError: an att_vec whose length is not A (naming the region).
    """
    labels = torch.full((len(att_vecs), num_attributes), -1.0)
    for r, vec in enumerate(att_vecs):
        if vec is None:
            continue
        if len(vec) != num_attributes:
            raise ValueError(f"region {r}: att_vec has {len(vec)} labels, the model's labels "
                             f"have {num_attributes} attributes")
        labels[r] = torch.as_tensor(vec, dtype=torch.float32)
    # 1 -> +1, 0 -> -1, -1 -> 0 (ignored).
    mapped = torch.where(labels == 1, 1.0, torch.where(labels == 0, -1.0, 0.0))
    return mapped[:, attribute_index.cpu()].to(device)
