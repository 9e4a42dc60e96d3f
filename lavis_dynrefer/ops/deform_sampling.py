"""Modulated deformable sampling in the DCNv4 layout, in pure PyTorch (optional CUDA kernel).

Shape letters: B batch (feature maps), H W spatial size, C channels, G groups, P = kernel**2
sampling points per group, O offset/modulation channels (>= G*P*3, DCNv4 pads it to a multiple
of 8). (P, not the glossary's K, which means tags elsewhere.)

For output pixel (h, w), group g and kernel point k, DCNv4 samples the value map bilinearly at

    x = w + (i - (kernel - 1) // 2) * dilation + dx[g, k]
    y = h + (j - (kernel - 1) // 2) * dilation + dy[g, k]

in pixel coordinates (pixel centres at integer positions, corners outside the map read as zero)
and sums the samples weighted by the modulation scalar m[g, k]. The modulation is used as given:
DCNv4 can softmax-normalise it, but ``DCNv4Function`` calls the kernel with ``softmax=False``,
which is what DynRefer's release runs.

Layout of ``offset_mask[b, h, w, :]``, read from the CUDA kernel ``forward_kernel_dcn_reg`` in
OpenGVLab/DCNv4 ``DCNv4_op/src/cuda/dcnv4_im2col_cuda.cuh`` (commit 7d59305; bilinear read in
``common.h``, ``DCNv4Function`` in ``DCNv4_op/DCNv4/functions/dcnv4_func.py``):

- group g owns the contiguous block ``[g*P*3, (g+1)*P*3)``;
- inside it, first P interleaved pairs ``(dx_0, dy_0, dx_1, dy_1, ...)`` (x = width offset
  first), then the P modulation scalars ``m_0 .. m_{P-1}``;
- channels ``[G*P*3, O)`` are padding and ignored;
- kernel point k runs x-major: the kernel loops ``for i in kernel_w: for j in kernel_h``, so
  k = i * kernel + j with i the column (x) index and j the row (y) index. (The
  ``dcnv4_core_pytorch`` reference found in ports of DCNv4 builds its grid with
  ``meshgrid(x, y, indexing="ij")`` and flattens: the same order.)
"""

from __future__ import annotations

import importlib.util
import logging
import math
from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange

logger = logging.getLogger(__name__)

Backend = Literal["pytorch", "dcnv4", "auto"]


def offset_mask_channels(groups: int, kernel: int = 3) -> int:
    """Width of the offset/modulation projection: G*P*3 rounded up to a multiple of 8.

    DCNv4 pads the channel count for its tensor-core loads; 4 groups of a 3x3 kernel give 112.
    """
    return int(math.ceil(groups * kernel * kernel * 3 / 8) * 8)


def dcnv4_available() -> bool:
    """Whether the optional ``DCNv4`` CUDA package is installed (it is not imported here)."""
    return importlib.util.find_spec("DCNv4") is not None


def split_offset_mask(offset_mask: torch.Tensor, groups: int, kernel: int = 3
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Split DCNv4's packed offset/modulation channels.

    Args:
        offset_mask: [B, H, W, O], O >= G*P*3, in the DCNv4 layout (module docstring).
        groups: G.
        kernel: kernel size; P = kernel**2.

    Returns:
        offsets [B, H, W, G, P, 2] as (dx, dy) in pixels, and modulation [B, H, W, G, P].
    """
    k = kernel * kernel
    if offset_mask.shape[-1] < groups * k * 3:
        raise ValueError(
            f"offset_mask has {offset_mask.shape[-1]} channels, needs at least "
            f"groups*kernel**2*3 = {groups * k * 3}"
        )
    packed = rearrange(offset_mask[..., : groups * k * 3], "b h w (g x) -> b h w g x", g=groups)
    offsets = rearrange(packed[..., : 2 * k], "b h w g (k two) -> b h w g k two", two=2)
    return offsets, packed[..., 2 * k :]


def _kernel_points(kernel: int, dilation: int, device: torch.device
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Offsets of the P regular kernel points from the centre, x-major order. Each [P]."""
    steps = (torch.arange(kernel, device=device, dtype=torch.float32) - (kernel - 1) // 2)
    steps = steps * dilation
    return steps.repeat_interleave(kernel), steps.repeat(kernel)


def deform_sample_pytorch(value: torch.Tensor, offset_mask: torch.Tensor, groups: int,
                          kernel: int = 3, dilation: int = 1) -> torch.Tensor:
    """Reference implementation with ``grid_sample`` (any device, differentiable).

    Sampling runs in float32 (as DCNv4 does with its ``opmath_t``), the result is cast back to
    the value's dtype. Memory: the samples [B*G, C/G, H*W, P] are materialised.

    Args:
        value: [B, H, W, C], channels-last, group g owns channels [g*C/G, (g+1)*C/G).
        offset_mask: [B, H, W, O] in the DCNv4 layout.
        groups: G, must divide C.
        kernel: odd kernel size.
        dilation: spacing of the regular kernel points.

    Returns:
        [B, H, W, C].
    """
    b, h, w, c = value.shape
    if c % groups:
        raise ValueError(f"channels {c} not divisible by groups {groups}")
    if kernel % 2 == 0:
        raise ValueError(f"kernel must be odd, got {kernel}")
    if offset_mask.shape[:3] != value.shape[:3]:
        raise ValueError(
            f"offset_mask {tuple(offset_mask.shape)} and value {tuple(value.shape)} must share "
            "[B, H, W]"
        )
    offsets, modulation = split_offset_mask(offset_mask.float(), groups, kernel)
    kx, ky = _kernel_points(kernel, dilation, value.device)
    ys = torch.arange(h, device=value.device, dtype=torch.float32).view(1, h, 1, 1, 1)
    xs = torch.arange(w, device=value.device, dtype=torch.float32).view(1, 1, w, 1, 1)
    px = xs + kx + offsets[..., 0]  # [B, H, W, G, P]
    py = ys + ky + offsets[..., 1]
    # grid_sample with align_corners=False puts pixel i's centre at (2i + 1) / size - 1, which
    # makes the pixel-coordinate mapping exact for any size (align_corners=True divides by
    # size - 1 and breaks on a 1-pixel map). Zeros padding = DCNv4's out-of-range corners.
    grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1)
    grid = rearrange(grid, "b h w g k xy -> (b g) (h w) k xy")
    maps = rearrange(value.float(), "b h w (g c) -> (b g) c h w", g=groups)
    samples = F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)  # [(B G), C/G, H*W, P]
    weights = rearrange(modulation, "b h w g k -> (b g) 1 (h w) k")
    out = (samples * weights).sum(-1)
    out = rearrange(out, "(b g) c (h w) -> b h w (g c)", b=b, g=groups, h=h, w=w)
    return out.to(value.dtype)


def _deform_sample_dcnv4(value: torch.Tensor, offset_mask: torch.Tensor, groups: int,
                         kernel: int, dilation: int) -> torch.Tensor:
    """DCNv4's CUDA kernel (stride 1, same padding, offset_scale 1, no softmax)."""
    from DCNv4.functions import DCNv4Function  # optional dependency, CUDA only

    b, _, _, c = value.shape
    width = offset_mask.shape[-1]
    if width % 8:  # the kernel asserts a padded width; padding channels are never read
        offset_mask = F.pad(offset_mask, (0, 8 - width % 8))
    pad = dilation * (kernel - 1) // 2
    return DCNv4Function.apply(
        value.contiguous(), offset_mask.to(value.dtype).contiguous(),
        kernel, kernel, 1, 1, pad, pad, dilation, dilation,
        groups, c // groups, 1.0,
        b,  # im2col_step: one chunk, so the kernel's "batch divisible by step" check always holds
        0,  # remove_center
    )


def deform_sample(value: torch.Tensor, offset_mask: torch.Tensor, groups: int,
                  kernel: int = 3, dilation: int = 1, backend: Backend = "pytorch"
                  ) -> torch.Tensor:
    """Modulated deformable sampling, DCNv4 layout, stride 1, same-size output.

    Args:
        value: [B, H, W, C], channels-last.
        offset_mask: [B, H, W, O], O >= G*P*3 (module docstring for the layout).
        groups: G.
        kernel: odd kernel size (3 in DynRefer).
        dilation: spacing of the regular kernel points.
        backend: "pytorch" (default, the reference), "dcnv4" (DCNv4's CUDA kernel; needs the
            package and CUDA tensors) or "auto" (DCNv4 when both are available).

    Returns:
        [B, H, W, C].
    """
    if backend not in ("pytorch", "dcnv4", "auto"):
        raise ValueError(f"unknown backend {backend!r}; expected 'pytorch', 'dcnv4' or 'auto'")
    use_cuda_op = backend == "dcnv4" or (
        backend == "auto" and value.is_cuda and dcnv4_available()
    )
    if use_cuda_op:
        if not value.is_cuda:
            raise ValueError("backend 'dcnv4' needs CUDA tensors")
        return _deform_sample_dcnv4(value, offset_mask, groups, kernel, dilation)
    return deform_sample_pytorch(value, offset_mask, groups, kernel, dilation)
