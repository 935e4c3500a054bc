"""The perceptual and distribution metrics compute the published definitions.

What reaches each network's first layer is compared with the published implementations'
preprocessing, written out here from their documented constants (LPIPS: images in [-1, 1],
ScalingLayer shift (-.030, -.088, -.188) and scale (.458, .448, .450), features divided by
their channel L2 norm + 1e-10; pytorch-fid: bilinear resize to 299 x 299, ``2 x - 1``; FVD's
I3D: frames bilinearly resized to 224 x 224 and scaled to [-1, 1], grey repeated to RGB), and
the resampling by scikit-image rather than torch. The distances are checked by known answers
that can fail: identical sets give ~0 with any features, a shifted set a larger value.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.transform import resize

LPIPS_SHIFT = np.array([-0.030, -0.088, -0.188])  # LPIPS ScalingLayer (lpips/pretrained_networks.py)
LPIPS_SCALE = np.array([0.458, 0.448, 0.450])


def first_input(module: torch.nn.Module, run) -> torch.Tensor:
    """What ``module`` receives while ``run()`` runs (its first call)."""
    seen: list[torch.Tensor] = []
    handle = module.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach().clone()) if not seen else None)
    try:
        run()
    finally:
        handle.remove()
    return seen[0]


def bilinear(image: np.ndarray, side: int) -> np.ndarray:
    """Half-pixel-centred bilinear resampling (torch's align_corners=False, TF2's resize) by scikit-image."""
    return resize(image, (side, side), order=1, mode="edge", anti_aliasing=False)


@pytest.fixture(autouse=True)
def _one_thread(single_torch_thread):
    yield


# ----- LPIPS ----------------------------------------------------------------------------------
def test_lpips_input_and_distance_follow_the_published_definition():
    from napari_vesselgan.metrics.perceptual import lpips
    from napari_vesselgan.nn.lpips import lpips_network

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    b = np.clip(a + rng.normal(0, 25, a.shape), 0, 255).astype(np.uint8)
    model = lpips_network("squeeze", "random", "random")
    seen = first_input(model.backbone, lambda: lpips(a, b, model))
    expected = ((a / 255.0 * 2 - 1) - LPIPS_SHIFT) / LPIPS_SCALE
    np.testing.assert_allclose(seen[0].numpy(), np.moveaxis(expected, -1, 0), atol=1e-5)

    def normalised(features: torch.Tensor) -> np.ndarray:
        f = features.double().numpy()
        return f / (np.sqrt((f**2).sum(axis=1, keepdims=True)) + 1e-10)

    with torch.no_grad():
        taps_a = model.backbone(torch.from_numpy(np.moveaxis(expected, -1, 0)[None]).float())
        taps_b = model.backbone(torch.from_numpy(np.moveaxis(((b / 255.0 * 2 - 1) - LPIPS_SHIFT) / LPIPS_SCALE,
                                                              -1, 0)[None]).float())
    by_hand = 0.0
    for k, (fa, fb) in enumerate(zip(taps_a, taps_b, strict=True)):
        weights = getattr(model.heads, f"lin{k}").model[1].weight.double().numpy().reshape(1, -1, 1, 1)
        by_hand += float(((normalised(fa) - normalised(fb)) ** 2 * weights).sum(axis=1).mean())
    assert lpips(a, b, model) == pytest.approx(by_hand, rel=1e-4)
    assert lpips(a, a, model) == 0.0


def test_lpips_grey_images_are_repeated_to_three_channels():
    from napari_vesselgan.metrics.perceptual import lpips
    from napari_vesselgan.nn.lpips import lpips_network

    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    noisy = np.clip(grey + rng.normal(0, 30, grey.shape), 0, 255).astype(np.uint8)
    model = lpips_network("alex", "random", "random")
    as_rgb = lpips(np.repeat(grey[..., None], 3, -1), np.repeat(noisy[..., None], 3, -1), model)
    assert lpips(grey, noisy, model) == pytest.approx(as_rgb, rel=1e-5)


# ----- FID: pytorch-fid's Inception input, and known answers ----------------------------------
def test_inception_input_is_pytorch_fid_preprocessing():
    from napari_vesselgan.metrics.distribution import inception_features
    from napari_vesselgan.nn.inception import fid_inception

    net = fid_inception("random")
    image = np.random.default_rng(2).integers(0, 256, (37, 53), dtype=np.uint8)
    seen = first_input(net.Conv2d_1a_3x3, lambda: inception_features([image], network=net, device="cpu"))
    expected = 2 * bilinear(image / 255.0, 299) - 1
    assert tuple(seen.shape) == (1, 3, 299, 299)
    for channel in range(3):  # grey repeated to RGB
        np.testing.assert_allclose(seen[0, channel].numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("dim", [3, 64])
def test_frechet_distances_have_known_answers_with_any_features(dim):
    """Identical sets: 0. A set moved by d (the same covariance): exactly |d|^2, for FID and FVD alike,
    whatever the features are (random here, of two sizes); a rotation of the feature space changes nothing."""
    from napari_vesselgan.metrics.distribution import fid_from_features
    from napari_vesselgan.metrics.video import fvd_from_features

    rng = np.random.default_rng(dim)
    a = rng.normal(size=(80, dim)) @ rng.normal(size=(dim, dim))
    shift = rng.normal(size=dim)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    for distance in (fid_from_features, fvd_from_features):
        assert distance(a, a.copy()) == pytest.approx(0.0, abs=1e-6 * dim)
        assert distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-5, abs=1e-6 * dim)
        assert distance(a, a + 2 * shift) == pytest.approx(4 * float(shift @ shift), rel=1e-5, abs=1e-6 * dim)
        assert distance(a @ rotation, (a + shift) @ rotation) == pytest.approx(float(shift @ shift), rel=1e-5,
                                                                             abs=1e-6 * dim)


# ----- FVD: the I3D input, and known answers ----------------------------------------------------
def test_i3d_input_is_fvd_preprocessing():
    from napari_vesselgan.metrics.video import i3d_features
    from napari_vesselgan.nn.i3d import i3d_network

    net = i3d_network("random")
    video = np.random.default_rng(4).integers(0, 256, (9, 30, 26), dtype=np.uint8)  # (T, Y, X)
    seen = first_input(net.Conv3d_1a_7x7, lambda: i3d_features([video], net, device="cpu"))
    assert tuple(seen.shape) == (1, 3, 9, 224, 224)
    for t in (0, 8):
        expected = 2 * bilinear(video[t] / 255.0, 224) - 1
        for channel in range(3):
            np.testing.assert_allclose(seen[0, channel, t].numpy(), expected, atol=1e-5)
