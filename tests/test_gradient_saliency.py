"""Gradient saliency is the derivative it claims to be: |d sum(output) / d input| (max over
channels), checked against central finite differences in float64 on tiny networks, on an image
whose size needs padding, and through ``Method.saliency`` on an image larger than ``max_side``."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from skimage.transform import resize
from torch import nn

from napari_vesselgan.analysis.gradient_saliency import gradient_saliency


def finite_difference_saliency(net: nn.Module, image: np.ndarray, stride: int, step: float = 1e-6) -> np.ndarray:
    """max over channels of |(f(x + h e) - f(x - h e)) / 2h|, f = sum of the output over the image's
    own pixels, the image reflect-padded to ``stride`` before the network (float64 throughout)."""
    net = copy.deepcopy(net).double().eval()
    _, height, width = image.shape
    pad = ((0, 0), (0, -height % stride), (0, -width % stride))

    def f(values: np.ndarray) -> float:
        with torch.no_grad():
            out = net(torch.from_numpy(np.pad(values, pad, mode="reflect"))[None])
        scale = out.shape[-1] // (width + pad[2][1])
        return float(out[..., : height * scale, : width * scale].sum())

    grad = np.zeros(image.shape)
    base = image.astype(np.float64)
    for index in np.ndindex(*image.shape):
        up, down = base.copy(), base.copy()
        up[index] += step
        down[index] -= step
        grad[index] = (f(up) - f(down)) / (2 * step)
    return np.abs(grad).max(axis=0)


def tiny_network(channels: int = 2) -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 4, 3, stride=2, padding=1),
                         nn.Tanh(), nn.ConvTranspose2d(4, 1, 4, stride=2, padding=1), nn.Tanh())


@pytest.mark.parametrize("shape", [(2, 8, 8), (2, 7, 5)], ids=["multiple of the stride", "padded"])
def test_gradient_saliency_equals_finite_differences(shape):
    net = tiny_network()
    image = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    saliency = gradient_saliency(net, image, stride=2, device=torch.device("cpu"))
    expected = finite_difference_saliency(net, image, stride=2)
    assert saliency.shape == shape[1:]
    np.testing.assert_allclose(saliency, expected, rtol=1e-3, atol=1e-5)
    assert saliency.max() > 10 * saliency.min()  # not flat: the check compares a real map


def test_method_saliency_on_an_image_larger_than_max_side(single_torch_thread):
    from napari_vesselgan.data import lowlight_pair
    from napari_vesselgan.data.intensity import intensity_range
    from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod

    torch.manual_seed(0)
    method = DenoiseMethod.untrained(DenoiseConfig.preset("test"), device="cpu")
    image, _ = lowlight_pair((40, 30), seed=4)
    saliency = method.saliency(image, max_side=16)
    # the documented path: analysed at max_side on the longer side, the map resized back, scaled by its 99.5th percentile
    small = resize(image.astype(np.float32), (16, 12), order=1, anti_aliasing=True, preserve_range=True)
    network_input = intensity_range(image).to_network(small[None].astype(np.float32))
    gradient = resize(finite_difference_saliency(method.generator, network_input, stride=method.stride), (40, 30),
                      order=1)
    expected = np.clip(gradient / np.percentile(gradient, 99.5), 0, 1)
    assert saliency.shape == image.shape and saliency.dtype == np.float32
    np.testing.assert_allclose(saliency, expected, atol=2e-3)
    assert np.count_nonzero(saliency < 0.5) > image.size // 4  # the scaling leaves a map, not a flat 1
