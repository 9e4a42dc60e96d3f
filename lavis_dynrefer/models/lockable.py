"""Freezing a tower the open_clip way: ``lock()`` turns off gradients and pins eval mode.

A locked tower stays in eval mode when a parent calls ``.train()`` (dropout and drop-path off,
as a frozen pretrained tower must be), without name filters or patching other modules.
"""

from __future__ import annotations

from torch import nn


class Lockable(nn.Module):
    """Base of the frozen towers (vision encoder, text tower, language model)."""

    locked: bool = False

    def lock(self) -> Lockable:
        """Freeze every parameter and keep the module in eval mode from now on."""
        self.locked = True
        self.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True) -> Lockable:
        return super().train(mode and not self.locked)
