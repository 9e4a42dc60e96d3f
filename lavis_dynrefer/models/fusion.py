"""View fusion: concatenate the V views along channels, then Linear-ReLU-Linear.

Shape letters: R regions, V views, L tokens per view (1 + S*S), C width.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn


class ViewFusion(nn.Sequential):
    """[R, V, L, C] -> [R, L, C]. Indices 0 and 2 are the release's ``cvem_mlp.0`` / ``.2``.

    Args:
        width: C.
        num_views: V.
    """

    def __init__(self, width: int, num_views: int):
        super().__init__(nn.Linear(num_views * width, width), nn.ReLU(), nn.Linear(width, width))
        self.num_views = num_views

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        if views.shape[1] != self.num_views:
            raise ValueError(f"expected {self.num_views} views, got {views.shape[1]}")
        return super().forward(rearrange(views, "r v l c -> r l (v c)"))
