"""LPIPS (Zhang et al., CVPR 2018): learned perceptual distance on ImageNet features.

The three published variants, with the parameter names of their weight files so that they load
unchanged:

* the backbones in torchvision's layout (``features.<i>.*``): AlexNet (taps after the five
  ReLUs), VGG-16 (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3, from :mod:`.pretrained`) and
  SqueezeNet 1.1 (taps after the first ReLU and fire modules 3, 5, 6, 7, 8 and 9);
* the linear calibration of the LPIPS package's v0.1 weights (``lin<k>.model.1.weight``, one
  non-negative 1x1 convolution without bias per tap; ``model.0`` is a dropout).

Distance: both images in [-1, 1] are shifted and scaled per channel (LPIPS' fixed
ScalingLayer constants), each tap's features are divided by their channel-wise L2 norm, the
squared difference is weighted by the tap's linear layer and averaged over space, and the taps
are summed.

Weights follow docs/design.md's rules (hub cache or download, a local file, or ``"random"``
explicitly; never a silent fallback): the backbone from torchvision's published file, the
linear layers from the LPIPS repository's file (BSD-2-Clause; also inside the ``lpips`` wheel
on PyPI as ``lpips/weights/v0.1/<net>.pth``). No such backbone can be fetched on the
project's build machines, so LPIPS is offered "where its weights are available".
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from .pretrained import VGGFeatures, load_into

from napari_vesselgan import InvalidInput

BACKBONE_URLS = {
    "alex": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "squeeze": "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
    "vgg": "https://download.pytorch.org/models/vgg16-397923af.pth",
}
LIN_URLS = {
    net: f"https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/{net}.pth"
    for net in ("alex", "squeeze", "vgg")
}
CHANNELS = {
    "alex": (64, 192, 384, 256, 256),
    "squeeze": (64, 128, 256, 384, 384, 512, 512),
    "vgg": (64, 128, 256, 512, 512),
}
NETS = tuple(CHANNELS)
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


class TappedFeatures(nn.Module):
    """``features`` (a Sequential in torchvision's numbering) returning the outputs at ``taps``."""

    def __init__(self, features: nn.Sequential, taps: Sequence[int]):
        super().__init__()
        self.taps = list(taps)
        self.features = features[: max(self.taps) + 1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for index, module in enumerate(self.features):
            x = module(x)
            if index in self.taps:
                out.append(x)
        return out


def alexnet_features() -> TappedFeatures:
    """torchvision's AlexNet ``features`` (conv 11/5/3/3/3), tapped after each ReLU."""
    layers = nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
    )
    return TappedFeatures(layers, (1, 4, 7, 9, 11))


class Fire(nn.Module):
    """SqueezeNet's fire module: 1x1 squeeze, then 1x1 and 3x3 expansions concatenated."""

    def __init__(self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int):
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.squeeze(x))
        return torch.cat([self.relu(self.expand1x1(x)), self.relu(self.expand3x3(x))], 1)


def squeezenet_features() -> TappedFeatures:
    """torchvision's SqueezeNet 1.1 ``features``, tapped as LPIPS does."""
    layers = nn.Sequential(
        nn.Conv2d(3, 64, 3, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
    )
    return TappedFeatures(layers, (1, 4, 7, 9, 10, 11, 12))


class LinearHead(nn.Module):
    """``model.1`` is the 1x1 convolution of the LPIPS file (``model.0`` was a dropout)."""

    def __init__(self, channels: int):
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LinearHeads(nn.Module):
    """``lin0`` ... ``lin<k>`` as in the LPIPS weight files."""

    def __init__(self, channels: Sequence[int]):
        super().__init__()
        self.count = len(channels)
        for k, c in enumerate(channels):
            setattr(self, f"lin{k}", LinearHead(c))

    def forward(self, k: int, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"lin{k}")(x)


class LPIPS(nn.Module):
    """LPIPS distance of (N, 1 or 3, H, W) image pairs in [-1, 1]; returns (N,)."""

    def __init__(self, net: str, backbone: nn.Module, heads: LinearHeads):
        super().__init__()
        self.net = net
        self.backbone = backbone.eval().requires_grad_(False)
        self.heads = heads.eval().requires_grad_(False)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        out = self.backbone((x - self.shift) / self.scale)
        return out if isinstance(out, list) else list(out)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for k, (fa, fb) in enumerate(zip(self._features(a), self._features(b))):
            fa = fa / (torch.sqrt(torch.sum(fa * fa, dim=1, keepdim=True)) + 1e-10)
            fb = fb / (torch.sqrt(torch.sum(fb * fb, dim=1, keepdim=True)) + 1e-10)
            total = total + self.heads(k, (fa - fb) ** 2).mean(dim=(1, 2, 3))
        return total


def _backbone(net: str) -> nn.Module:
    if net == "alex":
        return alexnet_features()
    if net == "squeeze":
        return squeezenet_features()
    return VGGFeatures("vgg16", ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"))


def lpips_network(net: str = "alex", backbone_weights: str | os.PathLike | None = None,
                  lin_weights: str | os.PathLike | None = None) -> LPIPS:
    """An LPIPS model (``alex``, ``squeeze`` or ``vgg``), frozen, in eval mode.

    ``backbone_weights`` / ``lin_weights``: None (torch's hub cache, downloaded there where a
    network is up), a file path, or ``"random"`` (seeded; for tests only, the distances then
    mean nothing). Raises ``PretrainedWeightsMissing`` naming the file to fetch.
    """
    if net not in CHANNELS:
        raise InvalidInput(f"unknown LPIPS network {net!r}; choose one of {', '.join(NETS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        backbone = _backbone(net)
        heads = LinearHeads(CHANNELS[net])
        if isinstance(lin_weights, str) and lin_weights == "random":
            for k in range(heads.count):
                nn.init.uniform_(getattr(heads, f"lin{k}").model[1].weight, 0.0, 0.2)  # non-negative, as trained
    backbone_name = {"alex": "alexnet", "squeeze": "squeezenet1_1", "vgg": "vgg16"}[net]
    load_into(backbone, backbone_name, backbone_weights, url=BACKBONE_URLS[net])
    if not (isinstance(lin_weights, str) and lin_weights == "random"):
        load_into(heads, f"LPIPS {net} linear layers", lin_weights, url=LIN_URLS[net])
    return LPIPS(net, backbone, heads).eval()


__all__ = ["BACKBONE_URLS", "CHANNELS", "LIN_URLS", "LPIPS", "NETS", "alexnet_features", "lpips_network",
           "squeezenet_features"]
