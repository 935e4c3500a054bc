"""Content, global style and AdaAttN local style losses on feature maps (mask2nir, docs/methods.md card 1).

Given feature maps of a content image ``c`` (the mask), a style image ``s`` (a real NIR-II
image) and the generated image ``cs = G(c)``, at several levels of a feature network
(VGG-19 relu1_1..relu4_1 in mask2nir):

- content (Eq. 11): sum over levels of MSE(Norm(F_cs), Norm(F_c)), Norm = per-channel
  mean/variance normalisation over space;
- global style (Eq. 12): sum over levels of MSE(mean(F_cs), mean(F_s)) + MSE(std(F_cs), std(F_s));
- local style (Eq. 13-18, AdaAttN): at level l the queries are Norm(F_c) of all levels <= l
  resized to level l and concatenated, the keys the same of F_s; A = softmax over style positions
  of Q^T K (no 1/sqrt(d) scaling); mean = A V, std = sqrt(relu(A V^2 - mean^2)), V = F_s at l;
  target Phi = std * Norm(F_c) + mean; sum over levels of MSE(F_cs, Phi).

The paper writes L2 norms; we use mean squared errors (as AdaAttN's code does) so the weights
keep their meaning per element. The attention has HW_c x HW_s entries: style positions are
randomly sampled down to ``max_style_positions`` (AdaAttN: 64 x 64), the same positions for
keys and values. The targets depend only on real images, so they are computed without
gradient; only F_cs carries one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5


def mean_std(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel spatial mean and standard deviation, shapes (N, C, 1, 1)."""
    flat = features.flatten(2)
    mean = flat.mean(dim=2)
    std = (flat.var(dim=2, unbiased=flat.shape[2] > 1) + EPS).sqrt()
    return mean[..., None, None], std[..., None, None]


def mean_variance_norm(features: torch.Tensor) -> torch.Tensor:
    """Norm(F): each channel shifted to zero mean and scaled to unit standard deviation over space."""
    mean, std = mean_std(features)
    return (features - mean) / std


def content_loss(cs: Sequence[torch.Tensor], c: Sequence[torch.Tensor]) -> torch.Tensor:
    """Eq. 11: sum over levels of MSE(Norm(F_cs), Norm(F_c))."""
    return sum(F.mse_loss(mean_variance_norm(a), mean_variance_norm(b.detach())) for a, b in zip(cs, c, strict=True))


def global_style_loss(cs: Sequence[torch.Tensor], s: Sequence[torch.Tensor]) -> torch.Tensor:
    """Eq. 12: sum over levels of the squared errors of the channel means and standard deviations."""
    total = 0.0
    for a, b in zip(cs, s, strict=True):
        mean_a, std_a = mean_std(a)
        mean_b, std_b = mean_std(b.detach())
        total = total + F.mse_loss(mean_a, mean_b) + F.mse_loss(std_a, std_b)
    return total


def _keys(levels: Sequence[torch.Tensor], upto: int) -> torch.Tensor:
    """Norm of every level <= ``upto``, resized (bilinear) to level ``upto``'s size and concatenated."""
    size = levels[upto].shape[-2:]
    parts = [mean_variance_norm(F.interpolate(f, size=size, mode="bilinear", align_corners=False)
                                if f.shape[-2:] != size else f) for f in levels[: upto + 1]]
    return torch.cat(parts, dim=1)


@torch.no_grad()
def adaattn_targets(c: Sequence[torch.Tensor], s: Sequence[torch.Tensor], *, max_style_positions: int = 4096,
                    generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Phi at every level (Eq. 13-17): attention-weighted style statistics on the normalised content."""
    targets = []
    for level in range(len(c)):
        query = _keys(c, level).flatten(2)                     # N, Cq, HWc
        key = _keys(s, level).flatten(2)                       # N, Cq, HWs
        value = s[level].flatten(2)                            # N, C, HWs
        positions = key.shape[2]
        if positions > max_style_positions:
            index = torch.randperm(positions, generator=generator)[:max_style_positions].to(key.device)
            key, value = key[..., index], value[..., index]
        attention = torch.softmax(torch.bmm(query.transpose(1, 2), key), dim=-1)  # N, HWc, HWs
        mean = torch.bmm(attention, value.transpose(1, 2))                        # N, HWc, C
        std = torch.relu(torch.bmm(attention, (value * value).transpose(1, 2)) - mean * mean).sqrt()
        shape = c[level].shape
        mean = mean.transpose(1, 2).reshape(shape)
        std = std.transpose(1, 2).reshape(shape)
        targets.append(std * mean_variance_norm(c[level]) + mean)
    return targets


def local_style_loss(cs: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]) -> torch.Tensor:
    """Eq. 18: sum over levels of MSE(F_cs, Phi)."""
    return sum(F.mse_loss(a, t) for a, t in zip(cs, targets, strict=True))


class FeatureLosses(nn.Module):
    """The three weighted terms for one batch (content c, style s, generated cs), on ``features``.

    ``features`` maps a [-1, 1] image batch to a list of feature maps (e.g.
    ``feature_network("vgg19", [...], signed=True)``); a term with weight 0 is not computed.
    """

    def __init__(self, features: nn.Module, *, content: float, global_style: float, local_style: float,
                 max_style_positions: int = 4096, seed: int = 0):
        super().__init__()
        self.features = features
        self.weights = {"content": content, "global_style": global_style, "local_style": local_style}
        self.max_style_positions = max_style_positions
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, content: torch.Tensor, style: torch.Tensor, generated: torch.Tensor) -> dict[str, torch.Tensor]:
        if not any(self.weights.values()):
            return {}
        with torch.no_grad():
            f_c = [f.float() for f in self.features(content)]
            f_s = [f.float() for f in self.features(style)]
        f_cs = [f.float() for f in self.features(generated)]
        losses: dict[str, torch.Tensor] = {}
        if self.weights["content"]:
            losses["content"] = self.weights["content"] * content_loss(f_cs, f_c)
        if self.weights["global_style"]:
            losses["global_style"] = self.weights["global_style"] * global_style_loss(f_cs, f_s)
        if self.weights["local_style"]:
            targets = adaattn_targets(f_c, f_s, max_style_positions=self.max_style_positions, generator=self.generator)
            losses["local_style"] = self.weights["local_style"] * local_style_loss(f_cs, targets)
        return losses
