"""The CycleGAN ResNet generator (Johnson et al. 2016, as in the CycleGAN reference code).

reflect-pad 3, conv 7x7, norm, ReLU; two stride-2 3x3 down-samplings; ``n_blocks`` residual
blocks at 4*ngf; two transposed-conv up-samplings; reflect-pad 3, conv 7x7, tanh. Convs carry
a bias only with instance norm (batch norm has its own shift), as the reference code does, so
that parameter counts match it. Total stride 4: inputs must be a multiple of 4 (the methods
pad with reflection and crop back). ``n_downsampling`` other than 2 gives pix2pixHD's global
generator pattern (stride 2**n, width doubling at each down-sampling). ``residual=True`` adds
the input to the tanh output (clamped to [-1, 1]) so that the network learns a correction; with
:meth:`ResnetGenerator.start_at_identity` it begins as the identity (denoise on real frames that
are already close to their target).
"""

from __future__ import annotations

import torch
from torch import nn

from napari_vesselgan.nn.architecture import keeps_arguments


def make_norm(kind: str, channels: int) -> nn.Module:
    """Instance norm without affine parameters or running statistics (CycleGAN), or batch norm."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}: use 'instance', 'batch' or 'none'")


class ResidualBlock(nn.Module):
    """Two reflect-padded 3x3 convs with norm and ReLU between; added to the input.

    ``relu_after_each``: a ReLU after the second conv too (before the addition), the blocks of
    the fundus2ffa paper ("each convolutional layer is followed by a ReLU").
    """

    def __init__(self, channels: int, norm: str = "instance", use_bias: bool = True, dropout: float = 0.0,
                 relu_after_each: bool = False):
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=use_bias),
            make_norm(norm, channels),
            nn.ReLU(True),
        ]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=use_bias), make_norm(norm, channels)]
        if relu_after_each:
            layers.append(nn.ReLU(True))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Image-to-image generator with ``n_blocks`` residual blocks between two down- and two up-samplings."""

    @keeps_arguments
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
        dropout: float = 0.0,
        block_relu_after_each: bool = False,
        n_downsampling: int = 2,
        residual: bool = False,
    ):
        super().__init__()
        if residual and in_channels != out_channels:
            raise ValueError("a residual generator needs as many input as output channels")
        self.residual = residual
        use_bias = norm == "instance"
        self.in_channels, self.out_channels, self.ngf, self.n_blocks = in_channels, out_channels, ngf, n_blocks
        self.n_downsampling = n_downsampling
        self.stride = 2**n_downsampling
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=use_bias),
            make_norm(norm, ngf),
            nn.ReLU(True),
        ]
        for i in range(n_downsampling):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                make_norm(norm, ngf * mult * 2),
                nn.ReLU(True),
            ]
        width = ngf * 2**n_downsampling
        layers += [ResidualBlock(width, norm, use_bias, dropout, block_relu_after_each) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1, bias=use_bias),
                make_norm(norm, ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.residual:
            return (x + self.model(x)).clamp(-1.0, 1.0)
        return self.model(x)

    def start_at_identity(self) -> "ResnetGenerator":
        """Zero the last convolution: a residual generator then outputs its input exactly."""
        if not self.residual:
            raise ValueError("only a residual generator starts at the identity")
        last = self.model[-2]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        return self

    @property
    def receptive_radius(self) -> int:
        """Input pixels on each side that influence one output pixel (for tile halos)."""
        # conv7 (3) + each down conv (1 at its input stride 1, 2, ...) + 2 convs per block at the
        # total stride + each up conv (1 at stride 2**n .. 2) + conv7 (3); n = 2 gives 15 + 8 * n_blocks
        n = self.n_downsampling
        downs, ups = sum(2**i for i in range(n)), sum(2**i for i in range(1, n + 1))
        return 3 + downs + 2 * self.stride * self.n_blocks + ups + 3


def init_weights(net: nn.Module, gain: float = 0.02, seed: int | None = None) -> nn.Module:
    """Normal(0, gain) initialisation of conv weights, zero biases (the CycleGAN default)."""
    generator = None
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            with torch.no_grad():
                module.weight.normal_(0.0, gain, generator=generator)
                if module.bias is not None:
                    module.bias.zero_()
        elif isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                module.weight.normal_(1.0, gain, generator=generator)
                module.bias.zero_()
    return net
