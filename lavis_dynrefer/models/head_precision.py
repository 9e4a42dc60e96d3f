"""The precision the tagging, attribute and class heads are read out in at inference.

The release runs these heads under bf16 autocast (``maybe_autocast(dtype=torch.bfloat16)``
around ``tag_forward`` / ``att_forward`` / ``ov_forward``): its logits are bf16, their sigmoid
is bf16, and ``tag_scores > tag_thr`` compares in bf16, where 0.7 is 0.69921875. A tag is kept
when its bf16 probability is at least the next bf16 value, so the effective thresholds are
0.701171875 / 0.763671875 / 0.802734375 for 0.7 / 0.76 / 0.8, and the written attribute and
class scores are bf16 values (with ties). ``bf16`` reproduces that: on CUDA the heads run under
bf16 autocast as in the release; elsewhere their float32 logits are rounded to bf16 first, so
the same logits give the same decisions and the same written values. ``fp32`` keeps float32
(models of this project trained in float32, such as ``shapes``).

Shape letters: R regions, N texts (tags, attribute prompts or classes).
"""

from __future__ import annotations

import contextlib

import torch

HEAD_PRECISIONS = ("bf16", "fp32")


def head_autocast(device: torch.device, precision: str):
    """The release's bf16 autocast around the heads on CUDA; a no-op otherwise."""
    if precision == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def head_logits(logits: torch.Tensor, precision: str) -> torch.Tensor:
    """[R, N] logits as the release holds them: bf16 for ``bf16``, else float32."""
    return logits.to(torch.bfloat16 if precision == "bf16" else torch.float32)


def head_sigmoid(logits: torch.Tensor, precision: str) -> torch.Tensor:
    """[R, N] probabilities in the head's precision (a bf16 sigmoid of bf16 logits)."""
    return torch.sigmoid(head_logits(logits, precision))


def above_threshold(probs: torch.Tensor, threshold: float) -> torch.Tensor:
    """[R, N] bool: ``probs > threshold`` in the probabilities' own dtype, as the release
    compares (for bf16 the threshold is rounded to bf16 first)."""
    return probs > threshold
