"""Tests for napari_vesselgan.metrics: fidelity (psnr, ssim, rmse) and explainable metrics."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from napari_vesselgan import metrics as m


def _noisy(shape=(48, 48), seed=0):
    rng = np.random.default_rng(seed)
    return rng.random(shape)


# ----------------------------------------------------------------------------- psnr / rmse


def test_psnr_uint8_uses_255():
    ref = np.full((16, 16), 100, np.uint8)
    img = ref + np.uint8(5)  # MSE 25
    assert m.psnr(ref, img) == pytest.approx(10 * math.log10(255**2 / 25))
    assert m.psnr(ref, img) == pytest.approx(20 * math.log10(51))


def test_psnr_uint16_uses_65535():
    ref = np.full((16, 16), 1000, np.uint16)
    img = ref + np.uint16(5)
    assert m.psnr(ref, img) == pytest.approx(10 * math.log10(65535**2 / 25))


def test_psnr_int16_uses_full_dtype_range():
    ref = np.full((16, 16), 10, np.int16)
    img = ref + np.int16(5)
    assert m.psnr(ref, img) == pytest.approx(10 * math.log10(65535**2 / 25))


def test_psnr_float_uses_reference_range_and_explicit_range():
    ref = np.zeros((16, 16))
    ref[:, 8:] = 2.0  # max - min = 2
    img = ref + 0.1  # MSE 0.01
    assert m.psnr(ref, img) == pytest.approx(10 * math.log10(4 / 0.01))
    assert m.psnr(ref, img, data_range=1.0) == pytest.approx(10 * math.log10(1 / 0.01))


def test_psnr_constant_float_reference_falls_back_to_one():
    ref = np.full((16, 16), 0.5)
    assert m.psnr(ref, ref + 0.1) == pytest.approx(20.0)


def test_psnr_identical_is_inf_without_warning():
    ref = _noisy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert m.psnr(ref, ref.copy()) == math.inf


def test_psnr_rejects_bad_data_range():
    ref = _noisy()
    with pytest.raises(ValueError, match="data_range"):
        m.psnr(ref, ref * 0.9, data_range=0)


def test_rmse_hand_computed_and_no_integer_wraparound():
    ref = np.zeros((4, 4), np.uint8)
    img = ref.copy()
    img[:2] = 3  # half the pixels differ by 3 -> MSE 4.5
    assert m.rmse(ref, img) == pytest.approx(math.sqrt(4.5))
    # uint8 0 - 10 must not wrap to 246
    assert m.rmse(np.zeros((3, 3), np.uint8), np.full((3, 3), 10, np.uint8)) == pytest.approx(10.0)
    # in the images' own units: the uint16 copy scales by 257
    assert m.rmse(ref.astype(np.uint16) * 257, img.astype(np.uint16) * 257) == pytest.approx(257 * math.sqrt(4.5))


# ----------------------------------------------------------------------------- ssim


def test_ssim_matches_documented_skimage_call_and_not_the_default():
    ref = _noisy(seed=1)
    img = np.clip(ref + 0.1 * _noisy(seed=2), 0, None)
    expected = structural_similarity(
        ref, img, data_range=float(ref.max() - ref.min()), gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, K1=0.01, K2=0.03,
    )
    default = structural_similarity(ref, img, data_range=float(ref.max() - ref.min()))
    ours = m.ssim(ref, img)
    assert ours == pytest.approx(expected, abs=1e-12)
    assert abs(ours - default) > 1e-4
    assert m.ssim(ref, ref) == pytest.approx(1.0)


def test_ssim_uint8_data_range_and_rgb_channel_axis():
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    img = np.clip(ref.astype(int) + rng.integers(-20, 21, ref.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(
        ref.astype(float), img.astype(float), data_range=255, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, channel_axis=-1,
    )
    assert m.ssim(ref, img) == pytest.approx(expected, abs=1e-12)


def test_ssim_too_small_raises():
    with pytest.raises(ValueError, match="11"):
        m.ssim(np.zeros((8, 8)), np.zeros((8, 8)))


@pytest.mark.parametrize("fn", [m.psnr, m.ssim, m.rmse])
def test_fidelity_shape_mismatch_and_nonfinite(fn):
    with pytest.raises(ValueError, match=r"\(16, 16\).*\(16, 17\)"):
        fn(np.zeros((16, 16)), np.zeros((16, 17)))
    bad = np.zeros((16, 16))
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fn(bad, np.zeros((16, 16)))
    bad[3, 3] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        fn(np.zeros((16, 16)), bad)


# ----------------------------------------------------------------------------- snr


def _snr_image():
    img = np.full((20, 20), 10.0)
    img[::2, ::2] = 14.0
    img[1::2, 1::2] = 14.0  # background checkerboard 10/14: mean 12, std 2
    img[5:11, 5:11] = 100.0  # bright signal block
    return img


def test_snr_otsu_default_hand_computed():
    img = _snr_image()
    # background = remaining checkerboard; the block removes 18 tens and 18 fourteens -> std still 2
    assert m.snr(img) == pytest.approx(100.0 / 2.0)


def test_snr_explicit_masks_override_otsu():
    img = _snr_image()
    signal = np.zeros(img.shape, bool)
    signal[0, 0] = True  # value 14
    background = np.zeros(img.shape, bool)
    background[0, 0:2] = True  # values 14, 10 -> std 2
    assert m.snr(img, signal=signal, background=background) == pytest.approx(7.0)
    # a labels layer (int) counts non-zero labels
    labels = np.where(img == 100.0, 3, 0)
    assert m.snr(img, signal=labels) == pytest.approx(50.0)
    # only background given: signal is its complement
    bg = img != 100.0
    assert m.snr(img, background=bg) == pytest.approx(50.0)


def test_snr_degenerate_cases():
    assert math.isnan(m.snr(np.full((8, 8), 5.0)))
    img = np.full((8, 8), 10.0)
    img[2:4, 2:4] = 100.0
    assert m.snr(img) == math.inf  # background std 0
    empty = np.zeros(img.shape, bool)
    assert math.isnan(m.snr(img, signal=empty))
    with pytest.raises(ValueError, match="shape"):
        m.snr(img, signal=np.ones((4, 4), bool))


# ----------------------------------------------------------------------------- entropy


def test_entropy_uint8_ramp_is_8_bits_and_constant_zero():
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert m.entropy(ramp) == pytest.approx(8.0)
    assert m.entropy(np.full((8, 8), 7, np.uint8)) == 0.0
    assert m.entropy(np.full((8, 8), 7.5)) == 0.0
    half = np.zeros((8, 8), np.uint8)
    half[:4] = 1
    assert m.entropy(half) == pytest.approx(1.0)


def test_entropy_uint16_bins_span_the_images_own_range():
    # a 16-bit camera image that uses a few hundred of its levels: 300 levels, equally often
    camera = (1000 + np.arange(300 * 20) % 300).astype(np.uint16).reshape(60, 100)
    assert m.entropy(camera) > 7.9  # 300 levels in 256 bins: nearly 8 bits, not ~1 bit
    assert m.entropy(np.arange(512, dtype=np.uint16).reshape(16, 32)) == pytest.approx(8.0)
    assert m.entropy(camera) == pytest.approx(m.entropy(camera.astype(np.float64)))


def test_entropy_float_uses_min_max():
    ramp = np.linspace(0.3, 0.7, 256).reshape(16, 16)
    assert m.entropy(ramp) == pytest.approx(8.0)
    two = np.full((8, 8), 0.2)
    two[:4] = 0.4
    assert m.entropy(two) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- edge density


def _square(dtype=np.uint8, value=200):
    img = np.zeros((32, 32), dtype)
    img[10:22, 10:22] = value
    return img


def test_edge_density_square_is_scale_invariant():
    u8 = _square()
    u16 = u8.astype(np.uint16) * 257
    f = u8 / 255.0
    e = m.edge_density(u8)
    assert 0.02 < e < 0.1  # roughly the 12x12 square's perimeter over 1024 pixels
    assert m.edge_density(u16) == e
    assert m.edge_density(f) == e
    assert m.edge_density(f * 1000 + 3) == e
    rgb = np.repeat(u8[..., None], 3, axis=-1)
    assert m.edge_density(rgb) == e
    assert m.edge_density(np.full((16, 16), 9, np.uint16)) == 0.0


# ----------------------------------------------------------------------------- contrast / mean


def test_contrast_and_mean_equal_numpy_in_own_units():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 65536, (24, 24), dtype=np.uint16)
    ref = img.astype(np.float64)
    assert m.contrast(img) == pytest.approx(np.std(ref))
    assert m.mean_intensity(img) == pytest.approx(np.mean(ref))
    # RGB: grey luminance in the image's own units (0..255, not 0..1)
    rgb = np.full((8, 8, 3), 200, np.uint8)
    assert m.mean_intensity(rgb) == pytest.approx(200.0)
    assert m.contrast(rgb) == pytest.approx(0.0, abs=1e-9)
    rgb2 = np.zeros((8, 8, 3))
    rgb2[..., 1] = 1.0
    assert m.mean_intensity(rgb2) == pytest.approx(0.7154)


def test_rgba_drops_alpha():
    rng = np.random.default_rng(6)
    rgb = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, rng.integers(0, 256, (24, 24, 1), dtype=np.uint8)], axis=-1)
    assert m.explainable_metrics(rgba) == m.explainable_metrics(rgb)


def test_explainable_metrics_nonfinite_raises():
    bad = _noisy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.explainable_metrics(bad)


# ----------------------------------------------------------------------------- aggregates


def test_explainable_metrics_keys_and_values():
    img = _snr_image()
    out = m.explainable_metrics(img)
    assert tuple(out) == m.EXPLAINABLE_METRICS == ("snr", "entropy", "edge_density", "contrast", "mean_intensity")
    assert set(m.METRIC_LABELS) == set(m.EXPLAINABLE_METRICS)
    assert out["snr"] == m.snr(img)
    assert out["contrast"] == m.contrast(img)
    assert all(isinstance(v, float) for v in out.values())


def test_compare_metrics_rows():
    before = _square(np.uint8, 50)
    after = _square(np.uint8, 200)
    rows = m.compare_metrics(before, after)
    assert [r["metric"] for r in rows] == list(m.EXPLAINABLE_METRICS)
    b, a = m.explainable_metrics(before), m.explainable_metrics(after)
    for r in rows:
        assert set(r) == {"metric", "before", "after", "change", "ratio"}
        assert r["before"] == b[r["metric"]] and r["after"] == a[r["metric"]]
        if r["metric"] != "snr":
            assert r["change"] == pytest.approx(r["after"] - r["before"])
    by = {r["metric"]: r for r in rows}
    # noiseless background: SNR inf before and after, so no finite change and no ratio
    assert by["snr"]["before"] == by["snr"]["after"] == math.inf
    assert math.isnan(by["snr"]["change"]) and by["snr"]["ratio"] is None
    assert by["mean_intensity"]["ratio"] == pytest.approx(4.0)  # not normalised
    assert by["edge_density"]["change"] == 0.0
    # ratio not meaningful for a zero "before"
    flat = m.compare_metrics(np.full((16, 16), 3, np.uint8), after)
    assert {r["metric"]: r for r in flat}["entropy"]["ratio"] is None


def test_inputs_not_modified():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    b = rng.random((24, 24, 3)).astype(np.float32)
    mask = rng.random((24, 24)) > 0.5
    copies = [x.copy() for x in (a, b, mask)]
    m.explainable_metrics(a, signal=mask)
    m.compare_metrics(a, b)
    m.psnr(a, a // 2)
    m.ssim(b, b * 0.5)
    m.rmse(b, b + 1)
    for orig, copy in zip((a, b, mask), copies):
        np.testing.assert_array_equal(orig, copy)
        assert orig.dtype == copy.dtype
