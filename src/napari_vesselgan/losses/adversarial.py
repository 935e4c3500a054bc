"""GAN objectives: least squares (LSGAN, the CycleGAN default) or the vanilla cross-entropy."""

from __future__ import annotations

import torch
from torch import nn


class GANLoss(nn.Module):
    """Compare a discriminator's logits with the 'real' (1) or 'fake' (0) target."""

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode == "lsgan":
            self.criterion: nn.Module = nn.MSELoss()
        elif mode == "vanilla":
            self.criterion = nn.BCEWithLogitsLoss()
        else:
            raise ValueError(f"unknown GAN mode {mode!r}: use 'lsgan' or 'vanilla'")
        self.mode = mode

    def forward(self, logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return self.criterion(logits, target)
