"""View alignment: deformable 3x3 sampling that aligns every extra view to view 1.

Shape letters: R regions, V views, C ViT width, S RoI size, N = R * (V - 1) aligned maps.

This is the release's ``CustomDCNv4`` (callsys/DynRefer ``dynrefer/models/dynrefer_t5.py``), a
DCNv4 module (OpenGVLab/DCNv4 ``DCNv4_op/DCNv4/modules/dcnv4.py``) whose offsets come from two
maps instead of one. Submodule names and shapes are the release's, so its ``cvem_align.*`` keys
load 1:1 (C = 1408, G = 4: ``offset_mask_dw`` [1408, 2, 3, 3], ``offset_mask`` [112, 1408],
``value_proj`` / ``output_proj`` [1408, 1408]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from einops import rearrange, repeat
from torch import nn

from lavis_dynrefer.ops.deform_sampling import deform_sample, offset_mask_channels


@dataclass(frozen=True)
class AlignConfig:
    """Settings of ``ViewAlign``.

    Attributes:
        width: C, the channel width of the RoI maps (1408 for EVA ViT-g).
        groups: G, deformable groups; C / G channels share one set of offsets.
        kernel: deformable kernel size (P = kernel**2 sampling points per group).
        dw_kernel: kernel of the depthwise conv that predicts offsets (DCNv4's
            ``dw_kernel_size``; 3 in the release).
        backend: deformable sampling backend, ``pytorch`` (default), ``dcnv4`` or ``auto``
            (``lavis_dynrefer.ops.deform_sample``).
        init: ``dcnv4`` (the release: offsets and modulation start at zero, so the aligned
            views start as zero) or ``identity`` (modulation 1 at the kernel centre, so each
            aligned view starts as ``output_proj(value_proj(view))`` sampled in place). Trained
            weights replace either; ``identity`` lets a model trained from scratch see its
            context views from the first step.
    """

    width: int
    groups: int = 4
    kernel: int = 3
    dw_kernel: int = 3
    backend: Literal["pytorch", "dcnv4", "auto"] = "pytorch"
    init: Literal["dcnv4", "identity"] = "dcnv4"

    def __post_init__(self) -> None:
        if self.width < 1 or self.groups < 1 or self.width % self.groups:
            raise ValueError(
                f"width must be a positive multiple of groups, got {self.width} and {self.groups}"
            )
        if self.kernel % 2 == 0 or self.dw_kernel % 2 == 0:
            raise ValueError(f"kernels must be odd, got {self.kernel} and {self.dw_kernel}")


def centre_modulation_channels(groups: int, kernel: int) -> list[int]:
    """The offset/modulation channels of each group's centre-tap modulation (DCNv4 layout,
    ``ops.deform_sampling``: per group 2P offsets then P modulations, taps x-major)."""
    points = kernel * kernel
    centre = (kernel // 2) * kernel + kernel // 2
    return [g * 3 * points + 2 * points + centre for g in range(groups)]


class ViewAlign(nn.Module):
    """Aligns views 2..V of each region to its view 1 with modulated deformable sampling.

    For a target map x and the reference (view 1) map r, both [C, S, S]:
    ``offset_mask = offset_mask(dwconv(cat[x; r]))`` gives, per pixel and group, 9 (dx, dy)
    offsets and 9 modulation scalars; ``out = output_proj(deform_sample(value_proj(x)))``.
    No residual; view 1 is returned unchanged.

    The offset projection starts at zero (weight and bias, as DCNv4 initialises it), so the
    modulation starts at zero too: until trained, the aligned views are exactly
    ``output_proj.bias`` (zero) everywhere. This is the release's behaviour.
    """

    def __init__(self, config: AlignConfig):
        super().__init__()
        self.config = config
        c = config.width
        # Registration order = the release's state-dict key order.
        # groups=C over 2C inputs: output channel c mixes input channels 2c and 2c+1 of
        # cat[target; reference], i.e. the first C/2 outputs see only the target and the last
        # C/2 only the reference. That is what the release's Conv2d(2C, C, groups=C) does on its
        # torch.cat([input, ref], dim=1); kept as is so its weights mean the same here.
        self.offset_mask_dw = nn.Conv2d(2 * c, c, config.dw_kernel,
                                        padding=(config.dw_kernel - 1) // 2, groups=c)
        self.offset_mask = nn.Linear(c, offset_mask_channels(config.groups, config.kernel))
        self.value_proj = nn.Linear(c, c)
        self.output_proj = nn.Linear(c, c)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """DCNv4's initialisation (the depthwise conv keeps PyTorch's default, as there); with
        ``init="identity"`` the centre tap's modulation starts at 1 instead of 0."""
        nn.init.zeros_(self.offset_mask.weight)
        nn.init.zeros_(self.offset_mask.bias)
        for proj in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)
        if self.config.init == "identity" and not self.offset_mask.bias.is_meta:
            with torch.no_grad():
                self.offset_mask.bias[centre_modulation_channels(self.config.groups,
                                                                 self.config.kernel)] = 1.0

    def align(self, target: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Align target maps to their reference maps.

        Args:
            target: [N, C, S, S], the views to align.
            reference: [N, C, S, S], the view-1 map of each target's region.

        Returns:
            [N, C, S, S].
        """
        value = self.value_proj(rearrange(target, "n c h w -> n h w c"))
        # The release concatenates [target; reference] in this order (CustomDCNv4.forward:
        # torch.cat([input, ref], dim=1)); the offsets are predicted from the raw target, not
        # from value_proj(target), as in DCNv4.
        offset_features = self.offset_mask_dw(torch.cat([target, reference], dim=1))
        offset_mask = self.offset_mask(rearrange(offset_features, "n c h w -> n h w c"))
        sampled = deform_sample(value, offset_mask, self.config.groups, self.config.kernel,
                                backend=self.config.backend)
        return rearrange(self.output_proj(sampled), "n h w c -> n c h w")

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        """Align every view to view 1 of the same region.

        Args:
            views: [R, V, C, S, S] RoI maps, view 0 being the t = 0 (box-only) view.

        Returns:
            [R, V, C, S, S]; [:, 0] is the input's view 0, unchanged.
        """
        r, v = views.shape[:2]
        if v == 1:
            return views
        target = rearrange(views[:, 1:], "r v c h w -> (r v) c h w")
        reference = repeat(views[:, 0], "r c h w -> (r v) c h w", v=v - 1)
        aligned = rearrange(self.align(target, reference), "(r v) c h w -> r v c h w",
                            r=r, v=v - 1)
        return torch.cat([views[:, :1], aligned], dim=1)
