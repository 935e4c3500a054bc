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
    """Saliency of a (C, H, W) network-ready image: (H, W) float32.

    The network sees the image reflect-padded to a multiple of ``stride``; the padding is part of
    the differentiated function, so a pixel's gradient includes what flows through its mirrored
    copies in the padding (the derivative of the output with respect to the image itself).
    """
    _, height, width = image.shape
    pad_y, pad_x = round_up(height, stride) - height, round_up(width, stride) - width
    x = torch.from_numpy(np.ascontiguousarray(image)).float()[None].to(device).requires_grad_(True)
    with torch.enable_grad():
        mode = "reflect" if pad_y < height and pad_x < width else "replicate"
        padded = nn.functional.pad(x, (0, pad_x, 0, pad_y), mode=mode) if pad_y or pad_x else x
        out = net(padded)
        scale = out.shape[-1] // padded.shape[-1]
        out[..., : height * scale, : width * scale].sum().backward()
    return x.grad[0].abs().amax(0).float().cpu().numpy()
