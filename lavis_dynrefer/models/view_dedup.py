"""Finding the distinct view images of a batch, so the ViT encodes each once.

Shape letters: N views (R * V), U distinct views.

The views of the regions of one image repeat: t = 1 is the whole image for every region, boxes
repeat in dense annotations, and nested boxes can truncate to the same view box. The processor
renders a repeated view box to the same pixels, so equal pixels are what is looked for: no view
boxes or image ids need to travel with the batch, and two views are merged only when their
tensors are equal element for element (a sample of their values groups candidates first).
"""

from __future__ import annotations

import torch

# Elements compared before the full check: every KEY_STRIDE-th of a view's 150528 values.
KEY_STRIDE = 97


def distinct_views(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of a batch of views.

    Args:
        images: [N, ...] view images.

    Returns:
        keep [U] int64 indices of the first occurrence of each distinct view, ascending, and
        inverse [N] int64 with ``images[keep][inverse]`` equal to ``images``.
    """
    num = images.shape[0]
    if num <= 1:
        index = torch.arange(num, device=images.device)
        return index, index
    flat = images.reshape(num, -1)
    _, key_group = torch.unique(flat[:, ::KEY_STRIDE], dim=0, return_inverse=True)
    keep: list[int] = []
    inverse: list[int] = []
    firsts: dict[int, list[int]] = {}  # key group -> positions in ``keep`` of its distinct views
    for i, group in enumerate(key_group.tolist()):
        candidates = firsts.setdefault(group, [])
        match = next((u for u in candidates if torch.equal(flat[keep[u]], flat[i])), None)
        if match is None:
            match = len(keep)
            keep.append(i)
            candidates.append(match)
        inverse.append(match)
    device = images.device
    return torch.tensor(keep, device=device), torch.tensor(inverse, device=device)
