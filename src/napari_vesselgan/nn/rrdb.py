"""The super-resolution generator of the TG paper: learned down-sampling, dense residual blocks,
sub-pixel up-sampling, spectral normalisation (docs/methods.md card 2).

The input is the re-upscaled low-resolution image Y (full size); the output X-hat has the same
size. Two stride-2 convolutions bring the features to 1/4 of the size (cheap, and they learn
what to keep), ``n_blocks`` residual-in-residual dense blocks (ESRGAN's RRDB: three dense
blocks of five 3x3 convolutions, growth ``growth``, residual scaling 0.2) work there, then two
x2 sub-pixel convolutions (PixelShuffle) return to full size. Every convolution is spectrally
normalised (``spectral=True``). Our decision beyond the paper's figure: the output is added to
the input (``input_skip``), so the network learns the missing detail, which trains far faster.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from napari_vesselgan.nn.architecture import keeps_arguments

RESIDUAL_SCALE = 0.2


def conv3x3(in_channels: int, out_channels: int, *, stride: int = 1, spectral: bool = True) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
    return spectral_norm(conv) if spectral else conv


class DenseBlock(nn.Module):
    """Five 3x3 convolutions, each seeing all earlier features; the last one's output, scaled
    by 0.2, is added to the input."""

    def __init__(self, features: int, growth: int, spectral: bool):
        super().__init__()
        self.convs = nn.ModuleList(
            conv3x3(features + i * growth, growth if i < 4 else features, spectral=spectral) for i in range(5)
        )
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for index, conv in enumerate(self.convs):
            out = conv(torch.cat(features, dim=1))
            if index < 4:
                features.append(self.act(out))
        return x + RESIDUAL_SCALE * out


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks and a scaled outer skip."""

    def __init__(self, features: int, growth: int, spectral: bool):
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(features, growth, spectral) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.blocks(x)


class SuperResGenerator(nn.Module):
    """Y (B, C, H, W), H and W multiples of 4 -> X-hat of the same shape."""

    stride = 4  # inputs are padded to a multiple of this

    @keeps_arguments
    def __init__(self, channels: int = 1, features: int = 32, growth: int = 16, n_blocks: int = 7, *,
                 spectral: bool = True, input_skip: bool = True):
        super().__init__()
        self.ngf = features
        self.input_skip = input_skip
        act = nn.LeakyReLU(0.2, inplace=True)
        self.head = nn.Sequential(
            conv3x3(channels, features, spectral=spectral), act,
            conv3x3(features, features, stride=2, spectral=spectral), act,
            conv3x3(features, features, stride=2, spectral=spectral),
        )
        self.body = nn.Sequential(*(RRDB(features, growth, spectral) for _ in range(n_blocks)))
        self.body_end = conv3x3(features, features, spectral=spectral)
        self.upsample = nn.Sequential(
            conv3x3(features, 4 * features, spectral=spectral), nn.PixelShuffle(2), act,
            conv3x3(features, 4 * features, spectral=spectral), nn.PixelShuffle(2), act,
        )
        self.tail = nn.Sequential(conv3x3(features, features, spectral=spectral), act,
                                  conv3x3(features, channels, spectral=spectral))
        # Receptive radius in input pixels: 3 head convs (1 + 1 + 2 px), 15 convs per RRDB and one
        # more at 1/4 size (4 px each), then 4 convs around the up-sampling (<= 2 + 2 + 1 + 1).
        self.receptive_radius = 4 + 4 * (15 * n_blocks + 1) + 6

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        features = self.head(y)
        features = features + self.body_end(self.body(features))
        out = self.tail(self.upsample(features))
        return y + out if self.input_skip else out


def freeze_spectral_norm(module: nn.Module) -> nn.Module:
    """Bake the spectrally normalised weights into plain convolutions (for fast inference).

    In eval mode spectral norm divides by a stored sigma each call; baking the quotient in
    gives the same outputs without that work. Training must not continue afterwards.
    """
    for submodule in module.modules():
        if parametrize.is_parametrized(submodule, "weight"):
            parametrize.remove_parametrizations(submodule, "weight", leave_parametrized=True)
    return module
