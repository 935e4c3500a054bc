"""Registering a photo / angiogram pair by their vessels (data.pair_registration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_vesselgan import InvalidInput
from napari_vesselgan.data.fundus import fundus_pair
from napari_vesselgan.data.pair_registration import register_pair, warp_image

REAL_PAIRS = Path(__file__).resolve().parents[2] / "shared" / "real" / "uwf-slo-fa"


def _deformation(shape: tuple[int, int], amplitude: float) -> np.ndarray:
    """A smooth, known displacement field (px): half a sine period over the image on each axis."""
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    return np.stack([amplitude * np.sin(np.pi * cols / shape[1]), amplitude * np.cos(np.pi * rows / shape[0])])


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    synthetic = fundus_pair((384, 384), seed=5)
    return (np.clip(synthetic.fundus * 255, 0, 255).astype(np.uint8),
            np.clip(synthetic.ffa * 255, 0, 255).astype(np.uint8))


def test_a_known_smooth_deformation_is_undone(pair):
    photo, angiogram = pair
    deformed = warp_image(angiogram, _deformation(angiogram.shape, 6.0))
    photo_before, deformed_before = photo.copy(), deformed.copy()
    result = register_pair(photo, deformed, factor=1)
    assert result.applied
    assert result.error_before > 3.0  # the deformation is seen...
    assert result.error_after < 0.5 * result.error_before  # ...and mostly undone
    assert result.angiogram.dtype == np.uint8 and result.angiogram.shape == angiogram.shape
    aligned = np.abs(result.angiogram.astype(float) - angiogram).mean()
    assert aligned < 0.7 * np.abs(deformed.astype(float) - angiogram).mean()  # closer to the undeformed image
    np.testing.assert_array_equal(photo, photo_before)  # inputs unchanged
    np.testing.assert_array_equal(deformed, deformed_before)


def test_a_registered_pair_is_never_made_worse(pair):
    photo, angiogram = pair
    result = register_pair(photo, angiogram, factor=1)
    assert result.error_after <= result.error_before
    if not result.applied:
        np.testing.assert_array_equal(result.angiogram, angiogram)
        assert not result.flow.any()


def test_mismatched_or_tiny_pairs_are_refused(pair):
    photo, angiogram = pair
    with pytest.raises(InvalidInput, match="height and width"):
        register_pair(photo, angiogram[:-8])
    with pytest.raises(InvalidInput, match="too small"):
        register_pair(photo, angiogram, factor=8)


@pytest.mark.skipif(not (REAL_PAIRS / "slo_3.jpg").is_file(), reason="../shared/real/uwf-slo-fa is absent")
def test_the_worst_real_pair_is_brought_into_register():
    """Pair 3 ships with its vessels ~25 px apart (benchmarks/bench_uwf_registration.py)."""
    import imageio.v3 as iio

    photo, angiogram = iio.imread(REAL_PAIRS / "slo_3.jpg"), iio.imread(REAL_PAIRS / "fa_3.jpg")
    result = register_pair(photo, angiogram)
    assert result.applied and result.error_before > 15
    assert result.error_after < 0.5 * result.error_before
