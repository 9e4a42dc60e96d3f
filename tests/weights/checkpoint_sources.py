"""Synthetic weight files for the tiny model, in the layouts of the real ones.

A randomised tiny "donor" model provides the values; each function writes them under the names a
real file uses (release, BLIP-2, EVA ViT, EVA-CLIP, Hugging Face T5, a LAVIS runner checkpoint).
Loading every source into another model must reproduce the donor exactly. All values are fp16
representable so the fp16 ViT file loses nothing.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from lavis_dynrefer.models.build import build_dynrefer
from lavis_dynrefer.models.config import DynReferConfig
from lavis_dynrefer.models.dynrefer import DynReferModel
from lavis_dynrefer.weights.checkpoint import (
    load_blip2_checkpoint,
    load_eva_vit,
    load_flan_t5,
    load_release_checkpoint,
    load_text_tower,
)
from lavis_dynrefer.weights.checkpoint_mapping import names_from, ours_to_release

VIT = "vision.vit."
# eva_vit_g.pth keeps these in fp32; LAVIS casts every Linear/Conv weight and bias to fp16.
VIT_FP32 = ("cls_token", "pos_embed", "q_bias", "v_bias", "norm1.", "norm2.")


def tiny_config() -> DynReferConfig:
    path = DynReferModel.default_config_path("tiny")
    return DynReferConfig.from_mapping(OmegaConf.load(path).model)


def tiny_model(seed: int, meta: bool = False) -> DynReferModel:
    torch.manual_seed(seed)
    return build_dynrefer(tiny_config(), meta=meta).eval()


@torch.no_grad()
def randomize(model: DynReferModel, seed: int, trainable_only: bool = False) -> DynReferModel:
    """Every parameter distinct random values (fp16-exact), so misrouted tensors show."""
    generator = torch.Generator().manual_seed(seed)
    for param in model.parameters():
        if trainable_only and not param.requires_grad:
            continue
        values = torch.randn(param.shape, generator=generator) * 0.1
        param.copy_(values.half().float())
    return model


def samples(num_regions: int = 1) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    views = tiny_config().region.num_views
    boxes = torch.tensor([20.0, 30.0, 150.0, 120.0]).expand(num_regions, views, 4).clone()
    return {"image": torch.randn(num_regions, views, 3, 224, 224, generator=generator),
            "region_boxes": boxes}


def predict(model: DynReferModel) -> list[dict]:
    return model.predict_answers(samples())


def _state(model: DynReferModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _release_named(model: DynReferModel, source: str) -> dict[str, torch.Tensor]:
    state = _state(model)
    return {ours_to_release(n): state[n] for n in names_from(source, state)}


def _non_parameter(model: DynReferModel) -> dict[str, torch.Tensor]:
    state = _state(model)
    shared = state["language.t5.model.shared.weight"].to(torch.bfloat16)
    position_ids = state["resampler.qformer.embeddings.position_ids"]
    return {"Qformer.bert.embeddings.position_ids": position_ids,
            "t5_model.encoder.embed_tokens.weight": shared,
            "t5_model.decoder.embed_tokens.weight": shared.clone()}


def release_file(model: DynReferModel) -> dict:
    """``vg1.2_5e.pth``-style: the trained tensors, position_ids and bf16 aliases, plus the rest
    of a runner checkpoint."""
    state = {**_release_named(model, "release"), **_non_parameter(model)}
    config = {"model": {"arch": "dynrefer_t5", "num_views": model.config.region.num_views,
                        "finetune_llm": False}, "run": {"amp": True}, "base": []}
    return {"model": state, "config": config, "epoch": 4,
            "optimizer": {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": []},
            "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                       "growth_interval": 2000, "_growth_tracker": 0}}


def blip2_file(model: DynReferModel) -> dict:
    """``blip2_pretrained_flant5xl.pth``-style (section 2.1)."""
    return {"model": {**_release_named(model, "blip2"), **_non_parameter(model)}}


def vit_file(model: DynReferModel) -> dict[str, torch.Tensor]:
    """Flat ``eva_vit_g.pth``: no prefix, Linear/Conv tensors in fp16."""
    state = {k[len(VIT):]: v for k, v in _state(model).items() if k.startswith(VIT)}
    return {k: v if any(m in k for m in VIT_FP32) else v.half() for k, v in state.items()}


def text_file(model: DynReferModel) -> dict[str, torch.Tensor]:
    """The ``text.*`` half of ``eva_clip_psz14.pt``."""
    return {f"text.{k}": v.detach().clone().half()
            for k, v in model.text_tower.state_dict().items()}


def eva_clip_file(model: DynReferModel) -> dict[str, torch.Tensor]:
    """``eva_clip_psz14.pt``-style: ``visual.*`` with one more block, norm and head; ``text.*``."""
    vit = vit_file(model)
    depth, width = model.config.vision.depth, model.config.vision.width
    extra = {k.replace("blocks.0.", f"blocks.{depth}.", 1): torch.randn(v.shape).to(v.dtype)
             for k, v in vit.items() if k.startswith("blocks.0.")}
    extra.update({"norm.weight": torch.ones(width), "norm.bias": torch.zeros(width),
                  "head.weight": torch.randn(8, width), "head.bias": torch.zeros(8)})
    visual = {f"visual.{k}": v for k, v in {**vit, **extra}.items()}
    return {**visual, **text_file(model), "logit_scale": torch.tensor(4.6)}


def runner_checkpoint(model: DynReferModel) -> dict:
    """What LAVIS's ``RunnerBase._save_checkpoint`` (1.0.2) writes for our model."""
    grad = {k: v.requires_grad for k, v in model.named_parameters()}
    state = model.state_dict()
    for key in list(state):
        if key in grad and not grad[key]:
            del state[key]
    trainable = [p.detach().clone().requires_grad_() for p in model.parameters()
                 if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    for p in trainable:
        p.grad = torch.zeros_like(p)
    optimizer.step()
    return {"model": state, "optimizer": optimizer.state_dict(),
            "config": {"model": {"arch": "dynrefer", "model_type": "tiny"}},
            "scaler": {"scale": 1024.0}, "epoch": 1}


def write_sources(donor: DynReferModel, folder: Path) -> dict[str, Path]:
    """Every source file of the donor under ``folder``; returns their paths."""
    paths = {name: folder / f"{name}.pth" for name in ("vit", "blip2", "text", "release")}
    torch.save(vit_file(donor), paths["vit"])
    torch.save(blip2_file(donor), paths["blip2"])
    torch.save(text_file(donor), paths["text"])
    torch.save(release_file(donor), paths["release"])
    paths["t5"] = folder / "flan_t5"
    donor.language.t5.model.save_pretrained(paths["t5"])
    return paths


def load_all(model: DynReferModel, paths: dict[str, Path]) -> DynReferModel:
    """The documented order: ViT, T5, BLIP-2, text tower, release."""
    load_eva_vit(model, paths["vit"])
    load_flan_t5(model, paths["t5"])
    load_blip2_checkpoint(model, paths["blip2"])
    load_text_tower(model, paths["text"])
    load_release_checkpoint(model, paths["release"])
    return model
