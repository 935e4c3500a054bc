"""Gradient saliency (Simonyan et al. 2014) of an image-to-image network.

|d sum(output) / d input|, the maximum over input channels: which input pixels the output
depends on most. Used to explain restorations (card 4) as an overlay layer.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from napari_vesselgan.engine.tiling import round_up


def gradient_saliency(net: nn.Module, image: np.ndarray, *, stride: int, device: torch.device) -> np.ndarray:
    """Saliency of a (C, H, W) network-ready image (reflect-padded to ``stride`` internally): (H, W) float32."""
    _, height, width = image.shape
    pad = ((0, 0), (0, round_up(height, stride) - height), (0, round_up(width, stride) - width))
    x = torch.from_numpy(np.pad(image, pad, mode="reflect")).float()[None].to(device).requires_grad_(True)
    with torch.enable_grad():
        out = net(x)
        scale = out.shape[-1] // x.shape[-1]
        out[..., : height * scale, : width * scale].sum().backward()
    return x.grad[0, :, :height, :width].abs().amax(0).float().cpu().numpy()
