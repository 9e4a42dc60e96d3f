"""RoI-Align of the ViT patch grid: one [C, S, S] map per view from the referred box.

Shape letters: N feature maps (R * V views), C ViT width, S RoI size, h w patch grid.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn
from torchvision.ops import roi_align


class RegionPool(nn.Module):
    """torchvision RoI-Align over the patch tokens of each view (release: ``_roi_align``).

    The release pools with ``torchvision.ops.RoIAlign(output_size=224 // 14, spatial_scale=1/14,
    sampling_ratio=2)``, leaving ``aligned=False`` (no half-pixel shift); the box is the referred
    box in that view's 224-px frame. Box i is pooled from feature map i only.

    Args:
        output_size: S (16 in the release).
        patch_size: ViT patch size in pixels (14); the spatial scale is 1 / patch_size.
        sampling_ratio: bilinear samples per bin side (2).
    """

    def __init__(self, output_size: int = 16, patch_size: int = 14, sampling_ratio: int = 2):
        super().__init__()
        self.output_size = output_size
        self.patch_size = patch_size
        self.sampling_ratio = sampling_ratio

    def forward(self, tokens: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Pool each map's box.

        Args:
            tokens: [N, 1 + h*w, C] ViT output with the CLS token first (dropped here); the
                grid is square, h = w.
            boxes: [N, 4] XYXY in pixels of the view frame.

        Returns:
            [N, C, S, S], float32 for half-precision tokens, else the tokens' dtype.
        """
        n, length, _ = tokens.shape
        side = math.isqrt(length - 1)
        if side * side != length - 1:
            raise ValueError(f"expected 1 + h*w tokens on a square grid, got {length}")
        if boxes.shape != (n, 4):
            raise ValueError(f"expected boxes [{n}, 4], got {tuple(boxes.shape)}")
        grid = rearrange(tokens[:, 1:], "n (h w) c -> n c h w", h=side, w=side)
        if grid.dtype in (torch.float16, torch.bfloat16):
            # Boxes need sub-pixel precision; torchvision's autocast rule for roi_align also
            # runs it in float32 (the release pools under autocast).
            grid = grid.float()
        index = torch.arange(n, device=boxes.device, dtype=grid.dtype)
        rois = torch.cat([index[:, None], boxes.to(grid.dtype)], dim=1)
        return roi_align(grid, rois, output_size=self.output_size,
                         spatial_scale=1.0 / self.patch_size,
                         sampling_ratio=self.sampling_ratio, aligned=False)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, patch_size={self.patch_size}, "
                f"sampling_ratio={self.sampling_ratio}")
