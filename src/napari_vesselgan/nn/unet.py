"""The pix2pix U-Net generator (Isola et al. 2017), the baseline the fundus2ffa paper compares with.

Encoder: ``num_downs`` 4x4 stride-2 convs (LeakyReLU 0.2 before each but the first, norm on
all but the first and the innermost), widths ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...; decoder: ReLU,
4x4 stride-2 transposed conv, norm (dropout 0.5 on the three innermost up-steps when asked),
each up-step taking the matching encoder output concatenated (skip connections); tanh at the
end. Total stride ``2 ** num_downs``: the methods pad inputs to a multiple of it.
"""

from __future__ import annotations

import torch
from torch import nn

from napari_vesselgan.nn.architecture import keeps_arguments
from napari_vesselgan.nn.resnet_generator import make_norm


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` down-samplings (pix2pix uses 8 for 256 px)."""

    @keeps_arguments
    def __init__(self, in_channels: int, out_channels: int, ngf: int = 64, num_downs: int = 7,
                 norm: str = "instance", dropout: bool = False):
        super().__init__()
        if num_downs < 2:
            raise ValueError("num_downs must be >= 2")
        use_bias = norm == "instance"
        self.in_channels, self.out_channels, self.ngf, self.num_downs = in_channels, out_channels, ngf, num_downs
        widths = [ngf * min(2**i, 8) for i in range(num_downs)]
        self.downs = nn.ModuleList()
        previous = in_channels
        for i, width in enumerate(widths):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(previous, width, 4, stride=2, padding=1, bias=use_bias))
            if 0 < i < num_downs - 1:
                layers.append(make_norm(norm, width))
            self.downs.append(nn.Sequential(*layers))
            previous = width
        self.ups = nn.ModuleList()
        for i in reversed(range(num_downs)):
            in_width = widths[i] if i == num_downs - 1 else widths[i] * 2
            out_width = out_channels if i == 0 else widths[i - 1]
            layers = [nn.ReLU(True), nn.ConvTranspose2d(in_width, out_width, 4, stride=2, padding=1,
                                                        bias=use_bias or i == 0)]
            if i == 0:
                layers.append(nn.Tanh())
            else:
                layers.append(make_norm(norm, out_width))
                if dropout and i >= num_downs - 3 and i != num_downs - 1:
                    layers.append(nn.Dropout(0.5))
            self.ups.append(nn.Sequential(*layers))

    @property
    def stride(self) -> int:
        return 2**self.num_downs

    @property
    def receptive_radius(self) -> int:
        """Generous bound: the innermost features see the whole padded input."""
        return 2 ** (self.num_downs + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = self.ups[0](skips[-1])
        for up, skip in zip(self.ups[1:], reversed(skips[:-1]), strict=True):
            x = up(torch.cat([x, skip], dim=1))
        return x
