"""Low-level operators: DCNv4-layout deformable sampling (pure PyTorch, optional CUDA kernel)."""

from lavis_dynrefer.ops.deform_sampling import (
    dcnv4_available,
    deform_sample,
    deform_sample_pytorch,
    offset_mask_channels,
    split_offset_mask,
)

__all__ = [
    "dcnv4_available",
    "deform_sample",
    "deform_sample_pytorch",
    "offset_mask_channels",
    "split_offset_mask",
]
