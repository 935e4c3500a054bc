"""The PatchGAN discriminator of pix2pix / CycleGAN: a 70x70 receptive field with n_layers=3.

conv 4x4 stride 2 + LeakyReLU(0.2) without norm; (n_layers - 1) further stride-2 convs and one
stride-1 conv, each with norm and LeakyReLU, doubling the width up to 8*ndf; a final 4x4 conv
to one logit per patch (no sigmoid: the GAN loss decides). ``spectral=True`` spectrally
normalises every convolution (the super-resolution discriminator, with ``norm="none"``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from napari_vesselgan.nn.resnet_generator import make_norm


class PatchDiscriminator(nn.Module):
    """Classifies overlapping patches as real or generated; outputs a map of logits."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance",
                 spectral: bool = False):
        super().__init__()
        use_bias = norm != "batch"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=use_bias),
                make_norm(norm, ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=use_bias),
            make_norm(norm, ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1),
        ]
        if spectral:  # spectral normalisation of every convolution (Miyato et al. 2018)
            layers = [spectral_norm(layer) if isinstance(layer, nn.Conv2d) else layer for layer in layers]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ConditionalPatchDiscriminator(nn.Module):
    """pix2pix's conditional PatchGAN ending in a sigmoid (the fundus2ffa paper's discriminator).

    Input: the condition and the image concatenated on channels. With ``n_layers=3`` it has five
    4x4 convs, LeakyReLU(0.2) after the first four. ``forward`` returns per-patch probabilities
    (the sigmoid); training uses ``logits`` with a cross-entropy on logits, which is the same
    loss as log D computed stably.
    """

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        self.net = PatchDiscriminator(in_channels, ndf, n_layers, norm)

    def logits(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([condition, image], dim=1))

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(condition, image))
