"""Literal copies of the key patterns of release-checkpoints.md, and their expansion.

Copied by hand from the spec (sections 1.2, 2.1, 2.2, 2.3) so the tests check the loaders against
the spec's names and shapes, not against names derived from our own mapping table. Pattern
syntax: ``{a..b}`` every integer a..b, ``{a,b}`` exactly those; ``name [shape] [dtype]``.
"""

from __future__ import annotations

import itertools
import re

import torch

# Section 1.2: the 350 keys of vg1.2_5e.pth's "model" dict, in file order.
RELEASE_PATTERNS = """
cem_memory [2048]
attr_t []
attr_b []
Qformer.bert.embeddings.position_ids [1,512] int64
Qformer.bert.embeddings.LayerNorm.weight [768]
Qformer.bert.embeddings.LayerNorm.bias [768]
Qformer.bert.encoder.layer.{0..11}.attention.self.query.weight [768,768]
Qformer.bert.encoder.layer.{0..11}.attention.self.query.bias [768]
Qformer.bert.encoder.layer.{0..11}.attention.self.key.weight [768,768]
Qformer.bert.encoder.layer.{0..11}.attention.self.key.bias [768]
Qformer.bert.encoder.layer.{0..11}.attention.self.value.weight [768,768]
Qformer.bert.encoder.layer.{0..11}.attention.self.value.bias [768]
Qformer.bert.encoder.layer.{0..11}.attention.output.dense.weight [768,768]
Qformer.bert.encoder.layer.{0..11}.attention.output.dense.bias [768]
Qformer.bert.encoder.layer.{0..11}.attention.output.LayerNorm.weight [768]
Qformer.bert.encoder.layer.{0..11}.attention.output.LayerNorm.bias [768]
Qformer.bert.encoder.layer.{0,2,4,6,8,10}.crossattention.self.query.weight [768,768]
Qformer.bert.encoder.layer.{0,2,4,6,8,10}.crossattention.self.query.bias [768]
Qformer.bert.encoder.layer.{0,2,4,6,8,10}.crossattention.self.key.weight [768,1408]
Qformer.bert.encoder.layer.{0,2,4,6,8,10}.crossattention.self.key.bias [768]
Qformer.bert.encoder.layer.{0,2,4,6,8,10}.crossattention.self.value.weight [768,1408]
Qformer.bert.encoder.layer.{0,2,4,6,8,10}.crossattention.self.value.bias [768]
Qformer.bert.encoder.layer.{0,2,4,6,8,10}.crossattention.output.dense.weight [768,768]
Qformer.bert.encoder.layer.{0,2,4,6,8,10}.crossattention.output.dense.bias [768]
Qformer.bert.encoder.layer.{0,2,4,6,8,10}.crossattention.output.LayerNorm.weight [768]
Qformer.bert.encoder.layer.{0,2,4,6,8,10}.crossattention.output.LayerNorm.bias [768]
Qformer.bert.encoder.layer.{0..11}.intermediate_query.dense.weight [3072,768]
Qformer.bert.encoder.layer.{0..11}.intermediate_query.dense.bias [3072]
Qformer.bert.encoder.layer.{0..11}.output_query.dense.weight [768,3072]
Qformer.bert.encoder.layer.{0..11}.output_query.dense.bias [768]
Qformer.bert.encoder.layer.{0..11}.output_query.LayerNorm.weight [768]
Qformer.bert.encoder.layer.{0..11}.output_query.LayerNorm.bias [768]
t5_model.encoder.embed_tokens.weight [32128,2048] bfloat16
t5_model.decoder.embed_tokens.weight [32128,2048] bfloat16
t5_proj.weight [2048,768]
t5_proj.bias [2048]
cvem_align.offset_mask_dw.weight [1408,2,3,3]
cvem_align.offset_mask_dw.bias [1408]
cvem_align.offset_mask.weight [112,1408]
cvem_align.offset_mask.bias [112]
cvem_align.value_proj.weight [1408,1408]
cvem_align.value_proj.bias [1408]
cvem_align.output_proj.weight [1408,1408]
cvem_align.output_proj.bias [1408]
cvem_mlp.0.weight [1408,4224]
cvem_mlp.0.bias [1408]
cvem_mlp.2.weight [1408,1408]
cvem_mlp.2.bias [1408]
tag_head.encoder.layer.{0,1}.crossattention.self.query.weight [256,256]
tag_head.encoder.layer.{0,1}.crossattention.self.query.bias [256]
tag_head.encoder.layer.{0,1}.crossattention.self.key.weight [256,256]
tag_head.encoder.layer.{0,1}.crossattention.self.key.bias [256]
tag_head.encoder.layer.{0,1}.crossattention.self.value.weight [256,256]
tag_head.encoder.layer.{0,1}.crossattention.self.value.bias [256]
tag_head.encoder.layer.{0,1}.crossattention.output.dense.weight [256,256]
tag_head.encoder.layer.{0,1}.crossattention.output.dense.bias [256]
tag_head.encoder.layer.{0,1}.crossattention.output.LayerNorm.weight [256]
tag_head.encoder.layer.{0,1}.crossattention.output.LayerNorm.bias [256]
tag_head.encoder.layer.{0,1}.intermediate.dense.weight [1024,256]
tag_head.encoder.layer.{0,1}.intermediate.dense.bias [1024]
tag_head.encoder.layer.{0,1}.output.dense.weight [256,1024]
tag_head.encoder.layer.{0,1}.output.dense.bias [256]
tag_head.encoder.layer.{0,1}.output.LayerNorm.weight [256]
tag_head.encoder.layer.{0,1}.output.LayerNorm.bias [256]
tag_vision_proj.weight [256,768]
tag_vision_proj.bias [256]
tag_text_proj.weight [256,1024]
tag_text_proj.bias [256]
tag_fc.weight [1,256]
tag_fc.bias [1]
attr_head.encoder.layer.{0,1}.crossattention.self.query.weight [256,256]
attr_head.encoder.layer.{0,1}.crossattention.self.query.bias [256]
attr_head.encoder.layer.{0,1}.crossattention.self.key.weight [256,256]
attr_head.encoder.layer.{0,1}.crossattention.self.key.bias [256]
attr_head.encoder.layer.{0,1}.crossattention.self.value.weight [256,256]
attr_head.encoder.layer.{0,1}.crossattention.self.value.bias [256]
attr_head.encoder.layer.{0,1}.crossattention.output.dense.weight [256,256]
attr_head.encoder.layer.{0,1}.crossattention.output.dense.bias [256]
attr_head.encoder.layer.{0,1}.crossattention.output.LayerNorm.weight [256]
attr_head.encoder.layer.{0,1}.crossattention.output.LayerNorm.bias [256]
attr_head.encoder.layer.{0,1}.intermediate.dense.weight [1024,256]
attr_head.encoder.layer.{0,1}.intermediate.dense.bias [1024]
attr_head.encoder.layer.{0,1}.output.dense.weight [256,1024]
attr_head.encoder.layer.{0,1}.output.dense.bias [256]
attr_head.encoder.layer.{0,1}.output.LayerNorm.weight [256]
attr_head.encoder.layer.{0,1}.output.LayerNorm.bias [256]
attr_text_proj.weight [256,1024]
attr_text_proj.bias [256]
attr_vision_proj.weight [256,768]
attr_vision_proj.bias [256]
attr_fc.weight [1,256]
attr_fc.bias [1]
"""

# Section 2.2: the 511 keys eva_vit_g.pth supplies (dtype = in-model dtype after LAVIS's cast).
VIT_PATTERNS = """
cls_token [1,1,1408] float32
pos_embed [1,257,1408] float32
patch_embed.proj.weight [1408,3,14,14] float16
patch_embed.proj.bias [1408] float16
blocks.{0..38}.norm1.weight [1408] float32
blocks.{0..38}.norm1.bias [1408] float32
blocks.{0..38}.attn.q_bias [1408] float32
blocks.{0..38}.attn.v_bias [1408] float32
blocks.{0..38}.attn.qkv.weight [4224,1408] float16
blocks.{0..38}.attn.proj.weight [1408,1408] float16
blocks.{0..38}.attn.proj.bias [1408] float16
blocks.{0..38}.norm2.weight [1408] float32
blocks.{0..38}.norm2.bias [1408] float32
blocks.{0..38}.mlp.fc1.weight [6144,1408] float16
blocks.{0..38}.mlp.fc1.bias [6144] float16
blocks.{0..38}.mlp.fc2.weight [1408,6144] float16
blocks.{0..38}.mlp.fc2.bias [1408] float16
"""

# Section 2.3, prose turned into patterns: Flan-T5-XL's 558 parameters (HF names).
T5_PATTERNS = """
shared.weight [32128,2048]
lm_head.weight [32128,2048]
encoder.final_layer_norm.weight [2048]
decoder.final_layer_norm.weight [2048]
{encoder,decoder}.block.{0..23}.layer.0.SelfAttention.{q,k,v,o}.weight [2048,2048]
{encoder,decoder}.block.0.layer.0.SelfAttention.relative_attention_bias.weight [32,32]
decoder.block.{0..23}.layer.1.EncDecAttention.{q,k,v,o}.weight [2048,2048]
encoder.block.{0..23}.layer.1.DenseReluDense.{wi_0,wi_1}.weight [5120,2048]
encoder.block.{0..23}.layer.1.DenseReluDense.wo.weight [2048,5120]
decoder.block.{0..23}.layer.2.DenseReluDense.{wi_0,wi_1}.weight [5120,2048]
decoder.block.{0..23}.layer.2.DenseReluDense.wo.weight [2048,5120]
{encoder,decoder}.block.{0..23}.layer.0.layer_norm.weight [2048]
encoder.block.{0..23}.layer.1.layer_norm.weight [2048]
decoder.block.{0..23}.layer.{1,2}.layer_norm.weight [2048]
"""

# Section 2.1: the BLIP-2 stage-2 file = these + the whole Qformer.* block and the two T5
# aliases of section 1.2 (262 keys).
BLIP2_EXTRA_PATTERNS = """
query_tokens [1,32,768]
ln_vision.weight [1408]
ln_vision.bias [1408]
t5_proj.weight [2048,768]
t5_proj.bias [2048]
"""
# Section 1.3: the keys of the release file that are not parameters.
NON_PARAMETER_KEYS = ("Qformer.bert.embeddings.position_ids",
                      "t5_model.encoder.embed_tokens.weight",
                      "t5_model.decoder.embed_tokens.weight")
# Section 2.2: what eva_clip_psz14.pt's visual tower has beyond the 511, besides block 39.
EVA_CLIP_VISUAL_EXTRA_PATTERNS = """
norm.weight [1408]
norm.bias [1408]
head.weight [1024,1408]
head.bias [1024]
"""

_BRACES = re.compile(r"\{([^}]*)\}")


def _choices(body: str) -> list[str]:
    if ".." in body:
        low, high = body.split("..")
        return [str(i) for i in range(int(low), int(high) + 1)]
    return body.split(",")


def expand(patterns: str) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Pattern lines -> {key: (shape, dtype)}, in line order."""
    out: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
    for line in patterns.strip().splitlines():
        match = re.fullmatch(r"(\S+) \[([\d,]*)\](?: (\w+))?", line.strip())
        assert match, line
        name, shape_text, dtype_name = match.groups()
        shape = tuple(int(s) for s in shape_text.split(",") if s)
        dtype = getattr(torch, dtype_name or "float32")
        parts = _BRACES.split(name)  # literal, choice, literal, choice, ...
        options = [_choices(p) if i % 2 else [p] for i, p in enumerate(parts)]
        for combo in itertools.product(*options):
            out["".join(combo)] = (shape, dtype)
    return out


def release_keys() -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    return expand(RELEASE_PATTERNS)


def blip2_keys() -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    release = release_keys()
    keys = {k: v for k, v in release.items() if k.startswith(("Qformer.", "t5_model."))}
    return {**expand(BLIP2_EXTRA_PATTERNS), **keys}


def vit_keys() -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    return expand(VIT_PATTERNS)


def t5_keys() -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    return expand(T5_PATTERNS)


def eva_clip_visual_keys() -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """The 528 ``visual.*`` names of eva_clip_psz14.pt, without the prefix: the 511, block 39
    (shaped like every block) and norm/head."""
    vit = vit_keys()
    block_39 = {k.replace("blocks.0.", "blocks.39.", 1): v for k, v in vit.items()
                if k.startswith("blocks.0.")}
    return {**vit, **block_39, **expand(EVA_CLIP_VISUAL_EXTRA_PATTERNS)}
