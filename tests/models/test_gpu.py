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
