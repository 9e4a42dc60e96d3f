"""DynReferModel: the LAVIS model ``dynrefer`` (method.md sections 2-3).

Shape letters: R regions, V views, S view side / RoI size, C ViT width, Q queries, D Q-Former
width, K tags, A attributes, N texts, E text embedding width.

    images [R, V, 3, 224, 224], boxes in view frames [R, V, 4]
      vision encoder (frozen)          -> [R*V, 1 + h*w, C]
      region pool (RoI-Align)          -> [R, V, C, S, S]
      view align (deformable)          -> [R, V, C, S, S]
      [CLS ; S*S tokens] per view, fuse -> [R, 1 + S*S, C]
      resampler (Q-Former)             -> [R, Q, D]
        tagging     -> tag logits [R, K]          (ASL mean over regions, weight 0.64)
        contrastive -> region-text scores [R, N]  (SigLIP, weight 0.5)
        language    -> captions                   (cross-entropy, weight 1)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from einops import rearrange
from lavis.common.registry import registry
from lavis.models.base_model import BaseModel

from lavis_dynrefer import names
from lavis_dynrefer.data.labels import read_labels
from lavis_dynrefer.data.tag_list import tag_index
from lavis_dynrefer.grounding.scores import ground
from lavis_dynrefer.models.align import ViewAlign
from lavis_dynrefer.models.config import DynReferConfig, GenerationConfig
from lavis_dynrefer.models.contrastive import ContrastiveDecoder
from lavis_dynrefer.models.control_words import (
    control_word_candidates,
    inference_control_words,
    training_control_words,
)
from lavis_dynrefer.models.cross_rank import mean_count_per_rank
from lavis_dynrefer.models.fusion import ViewFusion
from lavis_dynrefer.models.head_precision import (
    above_threshold,
    head_autocast,
    head_logits,
    head_sigmoid,
)
from lavis_dynrefer.models.language import LanguageDecoder
from lavis_dynrefer.models.losses import asymmetric_loss, labelled_sigmoid_loss
from lavis_dynrefer.models.parts import build_parts
from lavis_dynrefer.models.query_decoder import QueryDecoder
from lavis_dynrefer.models.region_labels import attribute_targets, class_targets
from lavis_dynrefer.models.region_pool import RegionPool
from lavis_dynrefer.models.resampler import QFormerResampler
from lavis_dynrefer.models.text_embeddings import (
    AttributePrompts,
    TextEmbeddingTable,
    class_prompts,
    max_over_prompts,
    ovad_attribute_prompts,
)
from lavis_dynrefer.models.text_tower import TextTower
from lavis_dynrefer.models.view_dedup import distinct_views
from lavis_dynrefer.models.vision import VisionEncoder
from lavis_dynrefer.paths import config_path
from lavis_dynrefer.weights.checkpoint import load_any_checkpoint, load_configured_weights

logger = logging.getLogger(__name__)


@registry.register_model(names.MODEL)
class DynReferModel(BaseModel):
    """DynRefer: multi-view region embedding read out by three decoders.

    The constructor receives its stages (``build.build_dynrefer`` makes them from a config);
    it reads no file and loads no weight.

    Args:
        config: the configuration the stages were built from.
        vision, region_pool, align, fusion, resampler: the region embedding stages.
        tagging: tag decoder (queries = tag embeddings).
        contrastive: region-text decoder.
        language: caption decoder.
        text_tower: frozen text tower; ``text_tokenizer`` its tokenizer.
        tags: the K tag names (the tag vocabulary).
    """

    PRETRAINED_MODEL_CONFIG_DICT = {
        "flant5xl": config_path("models/dynrefer_flant5xl.yaml"),
        "tiny": config_path("models/dynrefer_tiny.yaml"),
        "shapes": config_path("models/dynrefer_shapes.yaml"),
        "release": config_path("models/dynrefer_release.yaml"),
    }

    def __init__(self, config: DynReferConfig, *, vision: VisionEncoder, region_pool: RegionPool,
                 align: ViewAlign, fusion: ViewFusion, resampler: QFormerResampler,
                 tagging: QueryDecoder, contrastive: ContrastiveDecoder,
                 language: LanguageDecoder, text_tower: TextTower, text_tokenizer: Any,
                 tags: Sequence[str]):
        super().__init__()
        self.config = config
        self.vision = vision
        self.region_pool = region_pool
        self.align = align
        self.fusion = fusion
        self.resampler = resampler
        self.tagging = tagging
        self.contrastive = contrastive
        self.language = language
        self.text_tower = text_tower
        self.text_tokenizer = text_tokenizer
        self.tags = tuple(tags)
        self.tag_index = tag_index(self.tags)  # own and case-folded names
        self.tag_table = TextEmbeddingTable(self.tags, text_tower.config.embed_dim)
        self.attribute_table: TextEmbeddingTable | None = None
        self.attribute_prompts: AttributePrompts | None = None
        self.class_table: TextEmbeddingTable | None = None
        self.class_names: list[str] = []
        self.class_ids: list[int] | None = None

    @classmethod
    def build(cls, config: DynReferConfig, meta: bool = False, with_tokenizers: bool = True
              ) -> DynReferModel:
        """Randomly initialised, ``config.frozen`` parts locked (``parts.build_parts``)."""
        config, parts = build_parts(config, meta=meta, with_tokenizers=with_tokenizers)
        return cls(config, **parts)

    @classmethod
    def from_config(cls, cfg: Any) -> DynReferModel:
        """LAVIS entry point: yaml ``model`` section -> model. The builder makes it, the weights
        package loads the files the section names (``model.weights``), the labels file (if
        any) sets the attribute and class outputs."""
        model = cls.build(DynReferConfig.from_mapping(cfg))
        load_configured_weights(model)
        if model.config.labels:
            model.set_labels(read_labels(model.config.labels))
        return model

    def set_labels(self, labels: dict[str, Any]) -> None:
        """Attributes and classes from ``data.labels.read_labels`` (``attributes`` /
        ``categories`` lists as in an annotation file), for the ``attr`` / ``cls`` outputs."""
        if labels.get("attributes"):
            self.set_attributes(sorted(labels["attributes"], key=lambda a: a["id"]))
        if labels.get("categories"):
            categories = labels["categories"]
            self.set_classes([c["name"] for c in categories],
                             ids=[c["id"] for c in categories] if all("id" in c for c in
                                                                       categories) else None)

    # ----------------------------------------------------------------- text tables
    def _table(self, table: TextEmbeddingTable) -> torch.Tensor:
        if not self.text_tower.locked:
            # A tower that trains (from-scratch models) changes every step: no cache.
            return self.embed_texts(table.texts)
        if not table.is_current(self.text_tower):
            table.refresh(self.text_tower, self.text_tokenizer)
        return table()

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Text-tower embeddings [N, E] of free texts (captions); no gradient when frozen."""
        device = self.tag_table.embeddings.device
        tokens = self.text_tokenizer(list(texts)).to(device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.text_tower.locked):
            return self.text_tower(tokens)

    def set_attributes(self, attributes: Sequence[dict]) -> None:
        """Use OVAD-style attributes ({"name": "type:syn1/syn2", "is_has_att": ...}) for
        ``predict_answers``' ``attr`` scores (A values, in this order)."""
        attributes = [dict(a, is_has_att=a.get("is_has_att", "is")) for a in attributes]
        self.attribute_prompts = ovad_attribute_prompts(attributes)
        self.attribute_table = TextEmbeddingTable(self.attribute_prompts.templates,
                                                  self.text_tower.config.embed_dim)
        self.attribute_table.to(self.tag_table.embeddings.device)

    def set_classes(self, class_names: Sequence[str], ids: Sequence[int] | None = None) -> None:
        """Use these classes (prompts "the {name}") for ``predict_answers``' ``cls`` logits.

        ``ids`` are their ``category_id`` values in annotation files, which the label term of
        training needs (``loss_weight_rtc_labels``)."""
        if ids is not None and len(ids) != len(class_names):
            raise ValueError(f"{len(ids)} ids for {len(class_names)} classes")
        self.class_names = list(class_names)
        self.class_ids = list(ids) if ids is not None else None
        self.class_table = TextEmbeddingTable(class_prompts(class_names),
                                              self.text_tower.config.embed_dim)
        self.class_table.to(self.tag_table.embeddings.device)

    # ----------------------------------------------------------------- region embedding
    def encode_regions(self, images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Multi-view region tokens.

        Args:
            images: [R, V, 3, S_img, S_img] normalised views.
            boxes: [R, V, 4] the referred box in each view's frame (pixels).

        Returns:
            [R, Q, D].
        """
        if images.dim() != 5 or boxes.shape != (*images.shape[:2], 4):
            raise ValueError(f"expected images [R, V, 3, H, W] and boxes [R, V, 4], got "
                             f"{tuple(images.shape)} and {tuple(boxes.shape)}")
        num_regions, num_views = images.shape[:2]
        bad = ~(torch.isfinite(boxes).all(dim=-1) & (boxes[..., 2] >= boxes[..., 0])
                & (boxes[..., 3] >= boxes[..., 1]))
        if not boxes.is_meta and bool(bad.any()):  # meta: measuring cost, no values
            # torchvision's CPU roi_align crashes the process on non-finite boxes.
            region, view = (int(i) for i in bad.nonzero()[0])
            raise ValueError(f"region {region}, view {view}: box {boxes[region, view].tolist()} "
                             "is not finite or is reversed (boxes come from the processor)")
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.vision.locked):
            tokens = self.encode_views(images.flatten(0, 1))  # [R*V, 1 + h*w, C]
        pooled = self.region_pool(tokens, boxes.flatten(0, 1).float())  # [R*V, C, S, S]
        aligned = self.align(pooled.unflatten(0, (num_regions, num_views)))  # [R, V, C, S, S]
        cls = tokens[:, :1].unflatten(0, (num_regions, num_views))  # [R, V, 1, C]
        grid = rearrange(aligned, "r v c h w -> r v (h w) c")
        fused = self.fusion(torch.cat([cls, grid], dim=2))  # [R, 1 + S*S, C]
        return self.resampler(fused)

    def encode_views(self, views: torch.Tensor) -> torch.Tensor:
        """ViT tokens of view images, each distinct view encoded once (``config.share_views``).

        Only while the ViT is in eval mode: in training mode drop-path makes two passes of the
        same view differ, and sharing would change that.

        Args:
            views: [N, 3, H, W].

        Returns:
            [N, 1 + h*w, C].
        """
        if not self.config.share_views or self.vision.training or views.is_meta:
            return self.vision(views)
        keep, inverse = distinct_views(views)
        if len(keep) == len(views):
            return self.vision(views)
        return self.vision(views[keep])[inverse]

    def tag_targets(self, tags: Sequence[Sequence[str]], device: torch.device) -> torch.Tensor:
        """Multi-hot [R, K] targets from tag names (names outside the vocabulary are ignored)."""
        targets = torch.zeros(len(tags), len(self.tags), device=device)
        for r, region_tags in enumerate(tags):
            for tag in region_tags:
                index = self.tag_index.get(tag)
                if index is not None:
                    targets[r, index] = 1.0
        return targets

    # ----------------------------------------------------------------- training
    def forward(self, samples: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Training losses of a batch of regions.

        Args:
            samples: ``image`` [R, V, 3, H, W], ``region_boxes`` [R, V, 4], ``caption`` (R
                strings), ``tags`` (R lists of tag names, optional), ``phrases`` (R lists of
                caption phrases, optional; with the tags they are the control-word candidates).

        Returns:
            ``loss`` = L_lm + 0.64 L_tag + 0.5 L_rtc (the config's weights), and the three
            parts; with ``loss_weight_rtc_labels`` > 0 also the label term ``loss_rtc_labels``
            (``label_loss``; ``samples`` then carry ``category_id`` / ``att_vec``). Each part is
            a mean over the global batch (``cross_rank``): under DDP the rank-mean of ``loss``
            and its gradient equal one process's on the whole batch.
        """
        for key in ("image", "region_boxes", "caption"):
            if key not in samples:
                raise KeyError(f"samples lack {key!r} (have {sorted(samples)})")
        images, captions = samples["image"], list(samples["caption"])
        num_regions = images.shape[0]
        if num_regions == 0 or len(captions) != num_regions:
            raise ValueError(f"need one caption per region, got {len(captions)} for "
                             f"{num_regions} regions")
        tags = samples.get("tags") or [[] for _ in captions]
        phrases = samples.get("phrases") or [[] for _ in captions]
        region_tokens = self.encode_regions(images, samples["region_boxes"])

        tag_logits = self.tagging(region_tokens, self._table(self.tag_table))
        # ASL summed over tags, averaged over the global batch's regions (see loss_weight_tag).
        loss_tag = (asymmetric_loss(tag_logits, self.tag_targets(tags, images.device))
                    / mean_count_per_rank(num_regions, images.device))
        loss_rtc = self.contrastive.loss(region_tokens, self.embed_texts(captions))
        language = self.config.language
        control = [training_control_words(control_word_candidates(c, p, t),
                                          language.control_drop_all_p, language.control_keep_p)
                   for c, p, t in zip(captions, phrases, tags)]
        loss_lm = self.language.loss(region_tokens, control, captions)
        loss = (self.config.loss_weight_lm * loss_lm + self.config.loss_weight_tag * loss_tag
                + self.config.loss_weight_rtc * loss_rtc)
        losses = {"loss": loss, "loss_lm": loss_lm, "loss_tag": loss_tag, "loss_rtc": loss_rtc}
        if self.config.loss_weight_rtc_labels > 0:
            losses["loss_rtc_labels"] = self.label_loss(region_tokens, samples)
            losses["loss"] = loss + self.config.loss_weight_rtc_labels * losses["loss_rtc_labels"]
        return losses

    def label_loss(self, region_tokens: torch.Tensor, samples: dict[str, Any]) -> torch.Tensor:
        """The region-text decoder's label term (``DynReferConfig.loss_weight_rtc_labels``).

        Every region is scored against the class prompts and the attribute prompts of the
        model's labels; targets come from ``samples["category_id"]`` / ``samples["att_vec"]``
        (``region_labels``). SigLIP's sigmoid loss with the caption term's t' and b', summed
        over prompts and divided by the prompts and the global batch's regions.

        Args:
            region_tokens: [R, Q, D].
            samples: the training batch.

        Raises:
            ValueError: the model has no class ids and no attributes (``model.labels``).
        """
        device = region_tokens.device
        num_regions = region_tokens.shape[0]
        texts, targets = [], []
        if self.class_table is not None and self.class_ids is not None:
            texts.append(self._table(self.class_table))
            targets.append(class_targets(samples.get("category_id") or [None] * num_regions,
                                         self.class_ids, device))
        if self.attribute_table is not None:
            texts.append(self._table(self.attribute_table))
            targets.append(attribute_targets(samples.get("att_vec") or [None] * num_regions,
                                             self.attribute_prompts.index_tensor(),
                                             self.attribute_prompts.num_attributes, device))
        if not texts:
            raise ValueError("loss_weight_rtc_labels > 0 needs model.labels (classes with ids "
                             "and/or attributes)")
        target = torch.cat(targets, dim=1)  # [R, C + M]
        sims = self.contrastive(region_tokens, torch.cat(texts))
        total = labelled_sigmoid_loss(sims, self.contrastive.logit_scale,
                                      self.contrastive.logit_bias, target)
        return total / (target.shape[1] * mean_count_per_rank(num_regions, device))

    # ----------------------------------------------------------------- inference
    @torch.no_grad()
    def predict_answers(self, samples: dict[str, Any], generation: GenerationConfig | None = None,
                        all_tag_scores: bool = False, **_: Any) -> list[dict[str, Any]]:
        """Per-region predictions, in chunks of ``config.region_chunk`` regions.

        Args:
            samples: ``image`` [R, V, 3, S, S] and ``region_boxes`` [R, V, 4] (the processor's
                ``images`` / ``boxes``); ``id`` / ``image_id`` / ``bbox`` are copied over.
            generation: caption settings (default: the config's).
            all_tag_scores: also return ``tag_probs``, every tag's probability [K] (for
                ranking metrics such as tag mAP).

        Returns:
            One dict per region: ``caption``, ``score`` (exp of the caption's log-prob),
            ``tags`` (above the threshold, by descending probability), ``tag_scores``, and
            ``attr`` [A] / ``cls`` [classes] when attributes / classes were set. ``id``,
            ``image_id`` and ``bbox`` are copied from ``samples`` when present.
        """
        images, boxes = samples["image"], samples["region_boxes"]
        generation = generation or self.config.generation
        tag_table = self._table(self.tag_table)
        attr_table = self._table(self.attribute_table) if self.attribute_table else None
        class_table = self._table(self.class_table) if self.class_table else None
        results: list[dict[str, Any]] = []
        chunk = self.config.region_chunk  # >= 1: DynReferConfig checks it
        for start in range(0, images.shape[0], chunk):
            tokens = self.encode_regions(images[start:start + chunk], boxes[start:start + chunk])
            precision = self.config.head_precision  # the release's bf16 heads: head_precision
            with head_autocast(tokens.device, precision):
                tag_probs = head_sigmoid(self.tagging(tokens, tag_table), precision)
                kept = above_threshold(tag_probs, self.config.tag_threshold)
                attr = cls = None
                if attr_table is not None:
                    # sigmoid(s) as the release writes them (method.md), or the SigLIP
                    # probability sigmoid(s * e^t + b): the rankings agree, the values do not.
                    logits = (self.contrastive.logits(tokens, attr_table)
                              if self.config.attribute_score == "siglip"
                              else self.contrastive(tokens, attr_table))
                    attr = max_over_prompts(head_sigmoid(logits, precision),
                                            self.attribute_prompts.index_tensor(),
                                            self.attribute_prompts.num_attributes)
                if class_table is not None:
                    cls = head_logits(self.contrastive(tokens, class_table), precision)
            tag_probs = tag_probs.float()
            region_tags = []
            for probs, keep_row in zip(tag_probs, kept):
                keep = keep_row.nonzero().flatten().tolist()
                ranked = sorted(keep, key=lambda k: (-probs[k].item(), self.tags[k]))
                region_tags.append(([self.tags[k] for k in ranked],
                                    [probs[k].item() for k in ranked]))
            control = [inference_control_words(t, s) for t, s in region_tags]
            captions = self.language.generate(tokens, control, generation)
            for i in range(tokens.shape[0]):
                record = {"caption": captions.texts[i], "score": float(captions.scores[i]),
                          "tags": region_tags[i][0], "tag_scores": region_tags[i][1]}
                if attr is not None:
                    record["attr"] = attr[i].float().tolist()
                if cls is not None:
                    record["cls"] = cls[i].float().tolist()
                if all_tag_scores:
                    record["tag_probs"] = tag_probs[i].tolist()
                results.append(record)
        for key in ("id", "image_id", "bbox"):
            if key in samples:
                values = samples[key]
                for record, value in zip(results, values):
                    record[key] = value.tolist() if isinstance(value, torch.Tensor) else value
        return results

    def ground(self, samples: dict[str, Any], texts: Sequence[str],
               threshold: float | None = None) -> list[dict[str, Any]]:
        """Ground each text in the candidate regions of ``samples`` (as ``predict_answers``
        takes them): per text, ``scores`` (R probabilities) and ``matches`` (region indices
        scoring >= ``threshold``, default ``config.grounding_threshold``, best first; empty when
        none does). See ``lavis_dynrefer.grounding.scores``."""
        return ground(self, samples, texts, threshold)

    def load_checkpoint(self, url_or_filename: str) -> Any:
        """LAVIS's hook (``load_ckpt_path``, ``finetuned``): any known layout from a local path,
        with explicit key mapping; see ``lavis_dynrefer.weights.checkpoint``."""
        return load_any_checkpoint(self, url_or_filename)

    def trainable_parameter_names(self) -> list[str]:
        """Names of the parameters the optimiser updates."""
        return [n for n, p in self.named_parameters() if p.requires_grad]


