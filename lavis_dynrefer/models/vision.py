"""The frozen vision encoder: LAVIS's EVA ViT (built without its weight download) + ln_vision.

Shape letters: N images (R * V views), C width, h w patch grid.
"""

from __future__ import annotations

from functools import partial

import torch
from lavis.models.eva_vit import VisionTransformer, convert_weights_to_fp16
from torch import nn

from lavis_dynrefer.models.config import VisionConfig
from lavis_dynrefer.models.lockable import Lockable


def sincos_position_embedding(grid: int, width: int) -> torch.Tensor:
    """MAE's fixed 2-D sine-cosine position embedding, CLS position first (zeros).

    Half of the channels encode the column, half the row; each half is sin and cos of the
    position times frequencies 1 / 10000 ** (k / (width / 4)), k = 0 .. width / 4 - 1.

    Args:
        grid: h = w, patches per side.
        width: C, a multiple of 4.

    Returns:
        [1, 1 + h*w, C], unit-scale values (each of a patch's C / 2 sin/cos pairs has norm 1).
    """
    if width % 4:
        raise ValueError(f"sincos position embedding needs a width divisible by 4, got {width}")
    quarter = width // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(torch.arange(grid, dtype=torch.float64),
                                torch.arange(grid, dtype=torch.float64), indexing="ij")

    def encode(positions: torch.Tensor) -> torch.Tensor:
        angles = positions.flatten()[:, None] * omega[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    patches = torch.cat([encode(cols), encode(rows)], dim=1)  # [h*w, C]
    return torch.cat([torch.zeros(1, width, dtype=torch.float64), patches])[None].float()


class VisionEncoder(Lockable):
    """EVA ViT (penultimate layer of ViT-g: 39 blocks, no final norm) followed by BLIP-2's
    ``ln_vision``.

    ``lavis.models.eva_vit.create_eva_vit_g`` downloads and loads weights inside the builder;
    here the same ``VisionTransformer`` is constructed from the config and weights load in a
    separate, explicit step (``lavis_dynrefer.weights.checkpoint``).

    Args:
        config: sizes of the ViT.
    """

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.config = config
        self.vit = VisionTransformer(
            img_size=config.image_size,
            patch_size=config.patch_size,
            use_mean_pooling=False,
            embed_dim=config.width,
            depth=config.depth,
            num_heads=config.heads,
            mlp_ratio=config.mlp_ratio,
            qkv_bias=True,
            drop_path_rate=config.drop_path_rate,
            norm_layer=partial(nn.LayerNorm, eps=1e-6),
            use_checkpoint=config.grad_checkpointing,
        )
        self.ln_vision = nn.LayerNorm(config.width)
        if config.position_init == "sincos" and not self.vit.pos_embed.is_meta:
            with torch.no_grad():
                self.vit.pos_embed.copy_(sincos_position_embedding(self.grid_size, config.width))
        if config.precision == "fp16":
            convert_weights_to_fp16(self.vit)

    @property
    def grid_size(self) -> int:
        """h = w, patches per side."""
        return self.config.image_size // self.config.patch_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Encode view images.

        Args:
            images: [N, 3, H, W] normalised views.

        Returns:
            [N, 1 + h*w, C] float32 tokens (CLS first), after ``ln_vision``.
        """
        weight_dtype = self.vit.patch_embed.proj.weight.dtype
        if weight_dtype == torch.float32:
            tokens = self.vit(images)
        else:
            # Half-precision weights next to float32 LayerNorms: run as BLIP-2 does, under
            # autocast (LAVIS's load_model_and_preprocess calls .float() for CPU use).
            with torch.autocast(images.device.type, dtype=weight_dtype):
                tokens = self.vit(images.to(weight_dtype))
        # ln_vision runs in float32 like LAVIS's fp16-safe LayerNorm; the trainable stages
        # downstream work in float32.
        return self.ln_vision(tokens.float())
