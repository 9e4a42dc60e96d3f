"""Plain-loop reference of DCNv4 modulated deformable sampling, for tests only.

Written from DCNv4's CUDA kernel semantics (``forward_kernel_dcn_reg`` and
``ms_deform_attn_im2col_bilinear``): pixel centres at integers, corners outside the map read 0,
per group a block of K interleaved (dx, dy) pairs then K modulation scalars, kernel points
x-major. No grid_sample, no vectorisation: slow, but independent of the library code.
"""

from __future__ import annotations

import math

import torch


def bilinear(plane: list[list[float]], y: float, x: float) -> float:
    """Bilinear read of plane[y][x] with zeros outside."""
    height, width = len(plane), len(plane[0])
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0
    total = 0.0
    for yy, wy in ((y0, 1 - ly), (y0 + 1, ly)):
        for xx, wx in ((x0, 1 - lx), (x0 + 1, lx)):
            if 0 <= yy < height and 0 <= xx < width:
                total += wy * wx * plane[yy][xx]
    return total


def naive_deform_sample(value: torch.Tensor, offset_mask: torch.Tensor, groups: int,
                        kernel: int = 3, dilation: int = 1) -> torch.Tensor:
    """value [B, H, W, C], offset_mask [B, H, W, P] -> [B, H, W, C] (float64)."""
    b_, h_, w_, c_ = value.shape
    cg = c_ // groups
    k_ = kernel * kernel
    half = (kernel - 1) // 2
    val = value.double().tolist()
    om = offset_mask.double().tolist()
    out = torch.zeros(b_, h_, w_, c_, dtype=torch.float64)
    for b in range(b_):
        for c in range(c_):
            g = c // cg
            plane = [[val[b][y][x][c] for x in range(w_)] for y in range(h_)]
            for h in range(h_):
                for w in range(w_):
                    block = om[b][h][w][g * k_ * 3:(g + 1) * k_ * 3]
                    acc = 0.0
                    for i in range(kernel):  # x index, outer loop as in the CUDA kernel
                        for j in range(kernel):  # y index
                            k = i * kernel + j
                            dx, dy, m = block[2 * k], block[2 * k + 1], block[2 * k_ + k]
                            x = w + (i - half) * dilation + dx
                            y = h + (j - half) * dilation + dy
                            acc += m * bilinear(plane, y, x)
                    out[b, h, w, c] = acc
    return out
