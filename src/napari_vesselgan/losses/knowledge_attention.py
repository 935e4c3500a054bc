"""Knowledge-boosted attention loss (Fundus2Video, Eq. 1), as docs/methods.md card 3 reads it.

The attention map a is the channel mean of the generator's last feature map before its
output convolution, squashed to [0, 1] by a sigmoid; A = ReLU(a * M) is the attention inside
the knowledge mask M, supervised towards M: L_att = mean |A - M|. Inside M the generator is
pushed to activate strongly; outside it A is 0 whatever a is, so the loss leaves the rest of
the image to the other terms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def attention_map(features: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) in [0, 1]: sigmoid of the channel mean of a (B, C, H, W) feature map."""
    return torch.sigmoid(features.mean(dim=1, keepdim=True))


def knowledge_attention_loss(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """mean |ReLU(a * M) - M| with a = :func:`attention_map` of ``features`` and M (B, 1, H, W) in {0, 1}."""
    if mask.shape[-2:] != features.shape[-2:]:
        mask = F.interpolate(mask, size=features.shape[-2:], mode="nearest")
    return (F.relu(attention_map(features) * mask) - mask).abs().mean()
