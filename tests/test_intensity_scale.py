"""Comparisons put two images of different dtypes on one [0, 1] scale (issue 17, item 1)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_vesselgan.metrics.compare import (
    common_scale,
    difference_map,
    dtype_note,
    fidelity_rows,
    ssim_map,
    unit_scale,
)


@pytest.fixture
def pair():
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 256, (48, 52), dtype=np.uint8)  # a real 8-bit FFA
    generated = np.clip(reference / 255.0 + rng.normal(0, 0.05, reference.shape), 0, 1).astype(np.float32)
    return reference, generated


def test_float_result_against_8bit_reference_equals_the_pair_on_one_scale(pair):
    reference, generated = pair
    rows = fidelity_rows(reference, {"generated": generated})
    on_one_scale = fidelity_rows(reference / 255.0, {"generated": generated}, data_range=1.0)
    assert rows == on_one_scale
    # and not the raw mix: a [0, 1] image against 0..255 values scores far worse
    assert rows[0]["psnr"] > 20 and rows[0]["ssim"] > 0.5 and rows[0]["rmse"] < 0.1


def test_same_dtype_is_compared_in_its_own_units(pair):
    reference, _ = pair
    test = np.clip(reference.astype(int) + 3, 0, 255).astype(np.uint8)
    assert common_scale(reference, test) is None
    row = fidelity_rows(reference, {"t": test})[0]
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((test.astype(float) - reference) ** 2)))
    assert "own units" in dtype_note(reference, test)


def test_the_rule_per_dtype():
    assert unit_scale(np.array([[0, 255]], np.uint8)).apply(np.array([255], np.uint8))[0] == 1.0
    assert unit_scale(np.array([[False, True]])).rule == "bool as 0/1"
    camera = np.array([[100, 300]], np.uint16)  # a 16-bit camera uses a few hundred levels
    np.testing.assert_allclose(unit_scale(camera).apply(camera), [[0.0, 1.0]])
    unit = np.array([[0.2, 0.7]], np.float32)
    np.testing.assert_allclose(unit_scale(unit).apply(unit), unit)  # within [0, 1]: as is
    wide = np.array([[-2.0, 6.0]])
    np.testing.assert_allclose(unit_scale(wide).apply(wide), [[0.0, 1.0]])
    note = dtype_note(np.zeros((2, 2), np.uint8), unit, reference_name="real", test_name="fake")
    assert "one [0, 1] scale" in note and "uint8 / 255" in note and "float32 as is" in note


def test_maps_use_the_same_scale(pair):
    reference, generated = pair
    np.testing.assert_allclose(difference_map(reference, generated),
                               np.abs(generated - reference / 255.0), atol=1e-6)
    assert difference_map(reference, generated).max() <= 1.0  # not "the real FFA" in 0..255
    np.testing.assert_allclose(ssim_map(reference, generated), ssim_map(reference / 255.0, generated), atol=1e-6)


def test_ffa_saliency_difference_is_on_one_scale(pair):
    from napari_vesselgan.widgets.saliency_widget import saliency_job

    pytest.importorskip("napari")
    reference, generated = pair
    result = saliency_job(lambda message: None, image=generated, reference=reference,
                          params={"median_size": 11, "gaussian_size": 3, "a": 1.0})
    same_scale = saliency_job(lambda message: None, image=generated, reference=(reference / 255.0).astype(np.float32),
                              params={"median_size": 11, "gaussian_size": 3, "a": 1.0})
    assert result["mse"] == pytest.approx(same_scale["mse"], rel=1e-4)
    assert result["mse"] < 0.05  # on 0..255 the difference would be the real image itself
    assert "one [0, 1] scale" in result["scale"]
