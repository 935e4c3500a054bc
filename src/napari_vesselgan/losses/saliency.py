"""Local saliency loss of card 5 (Eq. 7): MSE between the saliency maps of G(I_S) and I_F.

The saliency map ``a (G7(I) - B(I))`` is :func:`napari_vesselgan.analysis.ffa_saliency` in
torch: the 7 x 7 Gaussian (sigma 1.4, mirror borders) is a differentiable convolution; the
51 x 51 median background B is computed without gradient by the fast exact numpy median (the
median is piecewise constant in its neighbours, card 5's decision), once per image of the
batch, on the image's own (network, [-1, 1]) scale, and enters the map as a constant. So the
gradient of L_sal reaches the generator through G7(G(I_S)) only.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from napari_vesselgan.analysis.ffa_saliency import gaussian_sigma, median_background

__all__ = ["SaliencyLoss", "gaussian_kernel", "median_background_torch", "saliency_map"]


def gaussian_kernel(size: int = 7, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The normalised 1-D Gaussian of ``size`` taps with OpenCV's sigma (as scipy computes it)."""
    radius = size // 2
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (x / gaussian_sigma(size)) ** 2)
    return (kernel / kernel.sum()).to(dtype)


def _mirror_pad(x: torch.Tensor, radius: int) -> torch.Tensor:
    """scipy's mode='reflect' (edge repeated: d c b a | a b c d) on the last two axes.

    torch's 'reflect' padding leaves the edge out (scipy's 'mirror'), so build it by hand;
    it works for any radius up to the image size.
    """
    if radius == 0:
        return x
    top, bottom = x[..., :radius, :].flip(-2), x[..., -radius:, :].flip(-2)
    x = torch.cat([top, x, bottom], dim=-2)
    left, right = x[..., :radius].flip(-1), x[..., -radius:].flip(-1)
    return torch.cat([left, x, right], dim=-1)


def gaussian_blur(x: torch.Tensor, size: int = 7) -> torch.Tensor:
    """Separable ``size`` x ``size`` Gaussian of (N, C, H, W) with mirror borders."""
    n, c, h, w = x.shape
    radius = size // 2
    if radius > min(h, w):
        raise ValueError(f"images of {h}x{w} px are too small for a {size}-tap Gaussian")
    kernel = gaussian_kernel(size, x.dtype).to(x.device)
    y = _mirror_pad(x.reshape(n * c, 1, h, w), radius)
    y = F.conv2d(y, kernel.view(1, 1, 1, -1))
    y = F.conv2d(y, kernel.view(1, 1, -1, 1))
    return y.reshape(n, c, h, w)


@torch.no_grad()
def median_background_torch(x: torch.Tensor, size: int = 51) -> torch.Tensor:
    """The ``size`` x ``size`` median of every (N, C) plane, without gradient (numpy rank median)."""
    x_cpu = x.detach().cpu()
    planes = (x_cpu if x_cpu.dtype == torch.float64 else x_cpu.float()).numpy().reshape(-1, *x.shape[-2:])
    out = np.stack([median_background(plane, size) for plane in planes])
    return torch.from_numpy(out).reshape(x.shape).to(device=x.device, dtype=x.dtype)


def saliency_map(x: torch.Tensor, *, median_size: int = 51, gaussian_size: int = 7, a: float = 1.0,
                 background: torch.Tensor | None = None) -> torch.Tensor:
    """``a (G(x) - B(x))`` of (N, C, H, W); differentiable through G, B held constant."""
    if background is None:
        background = median_background_torch(x, median_size)
    return a * (gaussian_blur(x, gaussian_size) - background)


class SaliencyLoss(nn.Module):
    """MSE between the saliency maps of a generated and a real FFA image (Eq. 7)."""

    def __init__(self, median_size: int = 51, gaussian_size: int = 7, a: float = 1.0):
        super().__init__()
        self.median_size, self.gaussian_size, self.a = median_size, gaussian_size, a

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        kwargs = {"median_size": self.median_size, "gaussian_size": self.gaussian_size, "a": self.a}
        with torch.no_grad():
            target = saliency_map(real, **kwargs)
        return F.mse_loss(saliency_map(fake.float(), **kwargs), target.float())
