"""LPIPS of numpy images (the network is :func:`napari_vesselgan.nn.lpips.lpips_network`).

Both images are mapped to [-1, 1] with one scale, the reference's (the dtype's range for
integer images, the reference's min..max for floats, as PSNR's data range), so that a
brighter or darker test image is seen as such. Grey images are repeated to three channels;
colour images are ``(Y, X, 3)`` (alpha dropped). Lower is more similar; 0 for identical images.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from .fidelity import _checked, _data_range, _dtype_span, _is_rgb

from napari_vesselgan import InvalidInput

__all__ = ["lpips", "lpips_metric"]


def _to_tensor(arr: np.ndarray, low: float, span: float, colour: bool):
    import torch

    x = (arr.astype(np.float32) - low) / span * 2.0 - 1.0
    x = np.moveaxis(x[..., :3], -1, 0) if colour else x[None]
    return torch.from_numpy(np.ascontiguousarray(x))[None]


def lpips(reference, image, network, *, data_range: float | None = None) -> float:
    """LPIPS distance between two 2-D images (grey or ``(Y, X, 3)``) with ``network``."""
    import torch

    ref, img = _checked(reference, "reference"), _checked(image, "image")
    if ref.shape != img.shape:
        raise InvalidInput(f"reference and image shapes differ: reference {ref.shape}, image {img.shape}")
    colour = _is_rgb(ref)
    if ref.ndim - (1 if colour else 0) != 2:
        raise InvalidInput(f"lpips takes one 2-D image (grey or RGB), got shape {ref.shape}")
    span = float(data_range) if data_range is not None else _data_range(ref)
    dtype_span = _dtype_span(ref)
    low = dtype_span[0] if dtype_span is not None else float(ref.min())
    device = next(network.parameters()).device
    with torch.inference_mode():
        value = network(_to_tensor(ref, low, span, colour).to(device), _to_tensor(img, low, span, colour).to(device))
    return float(value.reshape(-1)[0])


def lpips_metric(net: str, backbone_weights: str | os.PathLike | None = None,
                 lin_weights: str | os.PathLike | None = None,
                 ) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """``{"lpips": fn(reference, image)}``: the extra metric the comparison tables and reports take.

    One place builds it for the command line and the compare dock. The network is built once
    (weights as :func:`~napari_vesselgan.nn.lpips.lpips_network`: None for torch's hub cache, a
    file, or ``"random"`` for tests) and shared by every call; a missing file raises
    ``PretrainedWeightsMissing`` naming it.
    """
    from napari_vesselgan.nn.lpips import lpips_network

    network = lpips_network(net, backbone_weights=backbone_weights, lin_weights=lin_weights)

    def metric(reference: np.ndarray, image: np.ndarray) -> float:
        return lpips(reference, image, network)

    return {"lpips": metric}
