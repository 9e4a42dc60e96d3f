"""GPU-only checks: the optional DCNv4 kernel equals the PyTorch sampling; half precision on CUDA.

Skipped without CUDA (and, for the kernel, without the ``DCNv4`` package).
"""

import pytest
import torch

from lavis_dynrefer.ops.deform_sampling import dcnv4_available, deform_sample, offset_mask_channels

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


@pytest.mark.skipif(not dcnv4_available(), reason="needs the DCNv4 package")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_dcnv4_kernel_matches_pytorch_sampling(dtype):
    torch.manual_seed(0)
    groups, channels = 4, 64
    value = torch.randn(6, 16, 16, channels, device="cuda", dtype=dtype)
    offset_mask = torch.randn(6, 16, 16, offset_mask_channels(groups), device="cuda") * 2
    reference = deform_sample(value.float(), offset_mask, groups, backend="pytorch")
    kernel = deform_sample(value, offset_mask.to(dtype), groups, backend="dcnv4").float()
    tolerance = 1e-4 if dtype == torch.float32 else 2e-2
    assert torch.allclose(kernel, reference, atol=tolerance, rtol=tolerance)


def test_tiny_model_on_cuda_in_half_precision():
    import copy

    from lavis.models import load_model_and_preprocess
    from lavis.models.eva_vit import convert_weights_to_fp16

    model, _, _ = load_model_and_preprocess("dynrefer", "tiny", is_eval=True, device="cuda")
    half = copy.deepcopy(model)
    convert_weights_to_fp16(half.vision.vit)
    half.language.t5.model.to(torch.bfloat16)
    images = torch.randn(3, 3, 3, 224, 224, device="cuda")
    boxes = torch.tensor([0.0, 0.0, 224.0, 224.0], device="cuda").expand(3, 3, 4)
    with torch.no_grad():
        reference = model.encode_regions(images, boxes)
        tokens = half.encode_regions(images, boxes)
    assert torch.allclose(tokens, reference, atol=3e-2, rtol=3e-2)
    assert len(half.predict_answers({"image": images, "region_boxes": boxes})) == 3


def _flant5xl_with_stand_in_tokenizer():
    """The paper-size model with random weights. No Flan-T5 tokenizer can be had offline, so the
    shapes world's word vocabulary stands in (its ids are inside T5's 32,128)."""
    import dataclasses

    from omegaconf import OmegaConf

    from lavis_dynrefer.models.build import build_dynrefer
    from lavis_dynrefer.models.config import DynReferConfig
    from lavis_dynrefer.models.dynrefer import DynReferModel

    section = OmegaConf.load(DynReferModel.default_config_path("flant5xl")).model
    section.tag_list = "shapes/tags.txt"
    config = DynReferConfig.from_mapping(section)
    config = dataclasses.replace(config, language=dataclasses.replace(
        config.language, tokenizer="word", vocab_file="shapes/vocab.txt"))
    torch.manual_seed(0)
    return build_dynrefer(config).cuda()


def test_flant5xl_forward_in_fp16_and_bf16_on_cuda():
    """fp16 ViT, bf16 T5, the release's bf16 heads: a training step's losses and gradients are
    finite, and inference keeps the tags whose bf16 probability is above the bf16 threshold."""
    from PIL import Image

    from lavis_dynrefer.models.head_precision import head_autocast
    from lavis_dynrefer.paths import asset_path
    from lavis_dynrefer.processors.multi_view import MultiViewConfig, MultiViewProcessor

    model = _flant5xl_with_stand_in_tokenizer()
    assert model.vision.vit.blocks[0].attn.qkv.weight.dtype == torch.float16
    assert model.language.t5.dtype == torch.bfloat16
    views = MultiViewProcessor(MultiViewConfig(mode="eval"))(
        Image.open(asset_path("astronaut.jpg")),
        [[150, 40, 320, 220], [10, 10, 200, 300], [300, 200, 500, 380], [0, 0, 100, 100]])
    samples = {"image": views.images.cuda(), "region_boxes": views.boxes.cuda(),
               "caption": ["the red shape"] * 4, "tags": [["red"]] * 4, "phrases": [[]] * 4}
    model.train()
    losses = model(samples)
    losses["loss"].backward()
    assert all(torch.isfinite(v).all() for v in losses.values()), losses
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    model.eval()
    with torch.no_grad():
        results = model.predict_answers(samples, all_tag_scores=True)
        tokens = model.encode_regions(samples["image"], samples["region_boxes"])
        with head_autocast(tokens.device, "bf16"):
            logits = model.tagging(tokens, model._table(model.tag_table))
        release = torch.sigmoid(logits) > model.config.tag_threshold  # the release's expression
    assert logits.dtype == torch.bfloat16
    for record, kept in zip(results, release):
        assert set(record["tags"]) == {model.tags[k] for k in kept.nonzero().flatten().tolist()}
        assert 0 < record["score"] <= 1
