"""Stage 1 of the shapes recipe: pre-train the ViT on the world's facts, to be frozen in stage 2.

DynRefer freezes its ViT because EVA's pre-training already taught it to see. The shapes model
has no such ViT, and one trained only through the caption, tag and region-text losses learns
slowly: after 500 steps of end-to-end training its region tokens told colour from colour (99 %
by a linear probe) but not circles from squares (32 %) nor where the box lay (chance). So the
recipe pre-trains the ViT first, the way EVA was pre-trained on data it could learn from: here
every fact of every region is known (``fact_targets``), and the ViT learns to read them off a
view of the region, then stage 2 (``train_shapes.yaml``) freezes it as the paper freezes EVA.

The model sees each region through two views of the training processor (t = 0 and one random
t), pools the box from the ViT's patch grid exactly as DynRefer does (``RegionPool``), and
reads each view's ``[CLS ; RoI tokens]`` with a one-layer attention head (``FactHead``) that
classifies every fact: the facts readable from the box alone (``INTRINSIC_HEADS``) on both
views, the others and the OVAD-style attributes (``att_vec``) on the context view only. Its
checkpoint's ``vision.*`` is what stage 2 loads (``model.weights.towers``).

Shape letters: R regions, V views (2), C ViT width, F fact logits, A attributes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from lavis.common.registry import registry
from lavis.models.base_model import BaseModel
from torch import nn

from lavis_dynrefer import names
from lavis_dynrefer.data.annotations import RegionAnnotation
from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.models.region_pool import RegionPool
from lavis_dynrefer.models.vision import VisionEncoder
from lavis_dynrefer.paths import config_path
from lavis_dynrefer.shapes.attributes import ATTRIBUTES
from lavis_dynrefer.shapes.fact_targets import FACT_HEADS, IGNORE, INTRINSIC_HEADS, fact_targets
from lavis_dynrefer.shapes.truth import object_facts

logger = logging.getLogger(__name__)

HEAD_NAMES = tuple(FACT_HEADS)
VIEWS = 2  # t = 0, and one context view


def batch_fact_targets(samples: dict[str, Any], size: int) -> torch.Tensor:
    """[R, H] class indices of ``FACT_HEADS`` (in ``HEAD_NAMES`` order) for a batch whose images
    are whole (every region of an image is in the batch, as ``GeneratedSceneDataset`` gives)."""
    by_image: dict[int, list[int]] = defaultdict(list)
    for row, image_id in enumerate(samples["image_id"]):
        by_image[image_id].append(row)
    rows: list[dict[str, int]] = [{} for _ in samples["image_id"]]
    for image_id, members in by_image.items():
        objects = [object_facts(RegionAnnotation(
            id=samples["id"][r], image_id=image_id, bbox=tuple(samples["bbox"][r]), caption="",
            category_id=None, att_vec=None, extra_info=samples["extra_info"][r]))
            for r in members]
        for row, targets in zip(members, fact_targets(objects, size)):
            rows[row] = targets
    return torch.tensor([[targets[name] for name in HEAD_NAMES] for targets in rows])


@registry.register_model(names.MODEL_SHAPES_TOWERS)
class ShapesTowerPretraining(BaseModel):
    """The ViT of the shapes model with fact classifiers on pooled region views.

    Args:
        vision: the ViT to pre-train (built from the ``shapes`` model config).
        region_pool: RoI-Align of the box on the patch grid, as in DynRefer.
        image_size: side of the generated images in pixels (superlative margins are not used,
            but the facts take it).
    """

    PRETRAINED_MODEL_CONFIG_DICT = {"shapes": config_path("models/dynrefer_shapes.yaml")}

    def __init__(self, vision: VisionEncoder, region_pool: RegionPool, image_size: int = 224,
                 pool_queries: int = 4, pool_heads: int = 4):
        super().__init__()
        self.vision = vision
        self.region_pool = region_pool
        self.image_size = image_size
        width = vision.config.width
        outputs = sum(FACT_HEADS.values()) + len(ATTRIBUTES)
        self.head = FactHead(width, outputs, pool_queries, pool_heads)

    @classmethod
    def from_config(cls, cfg: Any) -> ShapesTowerPretraining:
        """LAVIS entry point: the ``shapes`` model section (its ``vision`` / ``region``);
        the towers train here whatever ``frozen`` says."""
        config = DynReferConfig.from_mapping(cfg)
        vision = VisionEncoder(config.vision)
        pool = RegionPool(config.region.roi_size, config.vision.patch_size,
                          config.region.roi_sampling_ratio)
        return cls(vision, pool)

    def logits(self, images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Fact and attribute logits [N, F + A] of N views ([N, 3, S, S], boxes [N, 4])."""
        tokens = self.vision(images)  # [N, 1 + h*w, C]
        pooled = self.region_pool(tokens, boxes.float())  # [N, C, S, S]
        region = torch.cat([tokens[:, :1], pooled.flatten(2).transpose(1, 2)], dim=1)
        return self.head(region)  # from [N, 1 + S*S, C], as DynRefer's resampler reads a view

    def forward(self, samples: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Mean cross-entropy over the fact heads plus the attributes' mean BCE.

        Args:
            samples: ``image`` [R, 2, 3, S, S] (views t = 0 and a context view),
                ``region_boxes`` [R, 2, 4], and per region ``extra_info`` (its facts),
                ``att_vec``, ``id``, ``image_id``, ``bbox``; whole images only.

        Returns:
            ``loss``, ``loss_facts``, ``loss_attributes``, and ``accuracy_<head>`` (context
            view, detached) for logging.
        """
        images, boxes = samples["image"], samples["region_boxes"]
        if images.dim() != 5 or images.shape[1] != VIEWS:
            raise ValueError(f"expected images [R, {VIEWS}, 3, S, S] (processor num_views: "
                             f"{VIEWS}), got {tuple(images.shape)}")
        num_regions = images.shape[0]
        logits = self.logits(images.flatten(0, 1), boxes.flatten(0, 1))
        logits = logits.unflatten(0, (num_regions, VIEWS))  # [R, V, F + A]
        targets = batch_fact_targets(samples, self.image_size).to(images.device)
        out: dict[str, torch.Tensor] = {}
        losses = []
        start = 0
        for h, (name, classes) in enumerate(FACT_HEADS.items()):
            head_logits = logits[..., start:start + classes]
            start += classes
            views = range(VIEWS) if name in INTRINSIC_HEADS else (VIEWS - 1,)
            for v in views:
                losses.append(F.cross_entropy(head_logits[:, v], targets[:, h],
                                              ignore_index=IGNORE))
            known = targets[:, h] != IGNORE
            hits = head_logits[:, -1].argmax(dim=-1) == targets[:, h]
            out[f"accuracy_{name}"] = hits[known].float().mean().detach()
        out["loss_facts"] = torch.stack(losses).mean()
        out["loss_attributes"] = attribute_loss(logits[:, -1, start:], samples["att_vec"])
        out["loss"] = out["loss_facts"] + out["loss_attributes"]
        return out


class FactHead(nn.Module):
    """Learned queries attend to a view's [CLS ; RoI tokens] (a one-layer resampler), then an
    MLP gives every logit. Attention, not a mean, so that the box's extent (its size) and
    the layout inside it can reach the logits, as they reach DynRefer's Q-Former.

    Args:
        width: C.
        outputs: logits per view.
        queries, heads: learned queries and attention heads.
    """

    def __init__(self, width: int, outputs: int, queries: int, heads: int):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(1, queries, width) * width ** -0.5)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(queries * width, 2 * width), nn.GELU(),
                                 nn.Linear(2 * width, outputs))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """[N, L, C] -> [N, outputs]."""
        queries = self.queries.expand(tokens.shape[0], -1, -1)
        pooled = self.attention(queries, tokens, tokens, need_weights=False)[0]
        return self.mlp(self.norm(pooled + queries).flatten(1))


def attribute_loss(logits: torch.Tensor, att_vecs: Sequence[Sequence[int]]) -> torch.Tensor:
    """Mean BCE of [R, A] logits over the known (not -1) labels of the regions' att_vecs."""
    labels = torch.tensor([list(vec) for vec in att_vecs], dtype=torch.float32,
                          device=logits.device)
    known = labels != -1
    terms = F.binary_cross_entropy_with_logits(logits, (labels == 1).float(), reduction="none")
    return (terms * known).sum() / known.sum().clamp(min=1)
