"""pix2pixHD's global generator and multi-scale discriminator (Wang et al. 2018), as Fundus2Video uses them.

Global generator: the ResNet generator pattern (``ResnetGenerator``) with ``n_downsampling``
stride-2 convs (pix2pixHD: 4, width ngf 64 doubling to 1024, 9 blocks) and biases on every
conv. Two additions for Fundus2Video's losses: :meth:`GlobalGenerator.encode` returns the
feature maps of chosen layers (CUT-style PatchNCE reads the generator's own encoder), and
:meth:`GlobalGenerator.forward_with_features` also returns the last feature map before the
output convolution (the knowledge-boosted attention reads it).

Multi-scale discriminator: ``num_d`` PatchGANs (pix2pixHD's: 4x4 kernels, padding 2, widths
doubling to 512, instance norm, LeakyReLU 0.2), the k-th seeing the input down-sampled k
times by AvgPool(3, stride 2, padding 1, count_include_pad=False); every block's output is
returned for feature matching, the last one being the logits.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from napari_vesselgan.nn.architecture import keeps_arguments
from napari_vesselgan.nn.resnet_generator import ResidualBlock, ResnetGenerator, make_norm


class GlobalGenerator(ResnetGenerator):
    """pix2pixHD's global generator; ``stride`` = 2**n_downsampling."""

    @keeps_arguments
    def __init__(self, in_channels: int, out_channels: int, ngf: int = 64, n_downsampling: int = 4,
                 n_blocks: int = 9, norm: str = "instance"):
        super().__init__(in_channels, out_channels, ngf=ngf, n_blocks=n_blocks, norm=norm,
                         n_downsampling=n_downsampling)

    def nce_layers(self) -> list[int]:
        """CUT's choice of layers for PatchNCE, in this network: the (padded) input, every
        down-sampling conv, the first residual block and the middle one."""
        layers = [0]
        layers += [4 + 3 * i for i in range(self.n_downsampling)]
        first_block = 4 + 3 * self.n_downsampling
        layers += sorted({first_block, first_block + self.n_blocks // 2})
        return layers

    def nce_channels(self) -> list[int]:
        """Channels of the feature maps :meth:`encode` returns for :meth:`nce_layers`."""
        channels = []
        for index in self.nce_layers():
            module = self.model[index]
            if isinstance(module, nn.ReflectionPad2d):
                channels.append(self.in_channels)
            elif isinstance(module, nn.Conv2d):
                channels.append(module.out_channels)
            elif isinstance(module, ResidualBlock):
                channels.append(self.ngf * self.stride)
        return channels

    def encode(self, x: torch.Tensor, layers: list[int]) -> list[torch.Tensor]:
        """Outputs of the layers ``layers`` (indices into ``model``), running only as far as needed."""
        features, wanted = [], set(layers)
        for index, module in enumerate(self.model):
            x = module(x)
            if index in wanted:
                features.append(x)
            if index >= max(layers):
                break
        return features

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(output, last feature map before the output conv) in one pass."""
        head = len(self.model) - 3  # ReflectionPad, conv 7x7, tanh
        features = self.model[:head](x)
        return self.model[head:](features), features


class NLayerDiscriminator(nn.Module):
    """pix2pixHD's PatchGAN: 4x4 convs with padding 2; returns every block's output (logits last)."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        pad = math.ceil((4 - 1) / 2)
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, stride=2, padding=pad),
                                                 nn.LeakyReLU(0.2, True))]
        width = ndf
        for n in range(1, n_layers + 1):
            previous, width = width, min(width * 2, 512)
            stride = 2 if n < n_layers else 1
            blocks.append(nn.Sequential(nn.Conv2d(previous, width, 4, stride=stride, padding=pad),
                                        make_norm(norm, width), nn.LeakyReLU(0.2, True)))
        blocks.append(nn.Sequential(nn.Conv2d(width, 1, 4, stride=1, padding=pad)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs


class MultiscaleDiscriminator(nn.Module):
    """``num_d`` PatchGANs at scales 1, 1/2, 1/4, ...; returns one list of block outputs per scale."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, num_d: int = 3, norm: str = "instance"):
        super().__init__()
        self.n_layers, self.num_d = n_layers, num_d
        self.scales = nn.ModuleList(NLayerDiscriminator(in_channels, ndf, n_layers, norm) for _ in range(num_d))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        results = []
        for index, discriminator in enumerate(self.scales):
            if index:
                x = self.downsample(x)
            results.append(discriminator(x))
        return results
