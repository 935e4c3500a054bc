"""PatchNCE (Park et al. 2020, CUT) and its knowledge-mask-enhanced form (Fundus2Video, Eq. 2-4).

InfoNCE over patches (Eq. 2): for each sampled location, the query feature of the generated
image should match the key feature at the same location (the positive) and not the keys at
the other sampled locations of the same image (the negatives):
``-log exp(q.k+ / tau) / (exp(q.k+ / tau) + sum exp(q.k- / tau))``, tau = 0.07, features
projected by a per-layer MLP (C -> 256, ReLU, 256 -> 256) and L2-normalised, keys detached,
the positive's self-similarity excluded from the negatives, averaged over patches and layers.

Where the keys come from makes the two Fundus2Video variants: the input fundus photo
(unsupervised, UP, Eq. 3) or the ground-truth frames (supervised, SP, Eq. 4). Mask-enhanced:
every feature map is multiplied by the knowledge mask M (area-resized to the map), so that
only clinically changing regions carry distinguishable features (Fundus2Video's M applied to
the features, our reading of the Eq. 3-4 products). The projector is trained with the
generator (the authors' code zeroes its optimiser before stepping, so theirs never learns).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchProjector(nn.Module):
    """One 2-layer MLP per feature layer; samples the same patch locations for query and key."""

    def __init__(self, channels: list[int], width: int = 256):
        super().__init__()
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(c, width), nn.ReLU(True), nn.Linear(width, width))
                                  for c in channels)

    def forward(self, features: list[torch.Tensor], num_patches: int,
                patch_ids: list[torch.Tensor] | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(projected, L2-normalised patches (B, P, width) per layer; the location ids used)."""
        projected, ids_used = [], []
        for index, (feature, mlp) in enumerate(zip(features, self.mlps, strict=True)):
            flat = feature.flatten(2).transpose(1, 2)  # (B, H*W, C)
            if patch_ids is None:
                # a CPU permutation: randperm on CUDA crashed in CUT's issue #83
                ids = torch.randperm(flat.shape[1])[: min(num_patches, flat.shape[1])].to(flat.device)
            else:
                ids = patch_ids[index]
            sample = flat[:, ids, :]
            projected.append(F.normalize(mlp(sample), dim=-1, eps=1e-7))
            ids_used.append(ids)
        return projected, ids_used


def info_nce(query: torch.Tensor, key: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """Eq. 2 for (B, P, D) queries and keys: the positive of patch i is key i, the other keys its negatives."""
    key = key.detach()
    logits = torch.bmm(query, key.transpose(1, 2)) / temperature  # (B, P, P); diagonal = positives
    targets = torch.arange(query.shape[1], device=query.device).expand(query.shape[0], -1)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def mask_features(features: list[torch.Tensor], mask: torch.Tensor | None) -> list[torch.Tensor]:
    """Each feature map times the mask (B, 1, H, W) area-resized to it; None leaves them as they are."""
    if mask is None:
        return features
    return [f * F.interpolate(mask, size=f.shape[-2:], mode="area") for f in features]


def patch_nce_loss(query_features: list[torch.Tensor], key_features: list[torch.Tensor], projector: PatchProjector,
                   *, mask: torch.Tensor | None = None, num_patches: int = 256,
                   temperature: float = 0.07) -> torch.Tensor:
    """Mask-enhanced PatchNCE averaged over layers; ``mask=None`` is CUT's plain PatchNCE."""
    keys, ids = projector(mask_features(key_features, mask), num_patches)
    queries, _ = projector(mask_features(query_features, mask), num_patches, ids)
    losses = [info_nce(q, k, temperature) for q, k in zip(queries, keys, strict=True)]
    return torch.stack(losses).mean()
