"""Synthetic vessel trees, NIR-II rendering, degradations and the napari sample data."""

from __future__ import annotations


import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import skeletonize

from napari_vesselgan.data import (
    VesselTree,
    clean_nir,
    lowlight_pair,
    lowres_pair,
    poisson_gaussian,
    render_nir,
    unpaired_domains,
    vessel_tree,
)
from napari_vesselgan.data import samples


def _branch_points(mask: np.ndarray) -> int:
    """Skeleton pixels with 3 or more skeleton neighbours (bifurcations)."""
    skel = skeletonize(mask)
    neighbours = ndimage.convolve(skel.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant") - 1
    return int(np.count_nonzero(skel & (neighbours >= 3)))


def _psnr(reference: np.ndarray, image: np.ndarray) -> float:
    mse = float(np.mean((reference.astype(np.float64) - image) ** 2))
    return 10.0 * np.log10(1.0 / mse)


# --- vessel trees -------------------------------------------------------------------------


def test_vessel_tree_is_reproducible_and_seed_dependent() -> None:
    a, b, c = vessel_tree(seed=3), vessel_tree(seed=3), vessel_tree(seed=4)
    for field in ("mask", "radius", "depth"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.mask, c.mask)


def test_vessel_tree_fields_are_consistent() -> None:
    tree = vessel_tree((200, 300), seed=1)
    assert isinstance(tree, VesselTree)
    assert tree.mask.dtype == bool and tree.mask.shape == (200, 300)
    assert tree.radius.dtype == np.float32 and tree.depth.dtype == np.float32
    assert np.array_equal(tree.radius > 0, tree.mask)  # radius exactly where vessels are
    assert np.all(tree.depth[~tree.mask] == 0) and np.all(tree.radius[~tree.mask] == 0)
    assert tree.depth[tree.mask].min() > 0 and tree.depth.max() <= 1
    assert 0.02 < tree.mask.mean() < 0.4  # vessels, not an empty or flooded image


@pytest.mark.parametrize("seed", [0, 1, 2, 40, 44])
def test_vessel_tree_branches_and_tapers(seed: int) -> None:
    tree = vessel_tree((256, 256), seed=seed)
    assert _branch_points(tree.mask) >= 5
    radii = tree.radius[tree.mask]
    assert radii.max() > 2.0 * radii.min()
    assert 4.0 <= radii.max() <= 6.5 and radii.min() <= 1.5  # ~1 to ~6 px at 256 px
    # connected: each of the 3 roots grows one tree; apart from small pieces where a vessel
    # leaves the image and re-enters, the 3 largest components hold (nearly) all vessel pixels
    labels, _ = ndimage.label(tree.mask)
    sizes = np.sort(np.bincount(labels.ravel())[1:])[::-1]
    assert sizes[:3].sum() > 0.95 * sizes.sum()


def test_vessel_tree_root_radius_scales_with_size() -> None:
    small = vessel_tree((256, 256), seed=0).radius.max()
    large = vessel_tree((1024, 1024), seed=0).radius.max()
    assert 3.0 < large / small < 5.0
    assert vessel_tree((256, 256), seed=0, root_radius=3.0).radius.max() <= 3.0


def test_vessel_tree_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        vessel_tree((4, 4))
    with pytest.raises(ValueError):
        vessel_tree(root_radius=-1.0)


# --- NIR-II rendering ----------------------------------------------------------------------


def test_clean_nir_range_and_vessel_contrast() -> None:
    tree = vessel_tree(seed=2)
    clean = clean_nir(tree, seed=2)
    assert clean.dtype == np.float32 and clean.shape == tree.mask.shape
    assert clean.min() >= 0 and clean.max() == pytest.approx(1.0)
    assert clean[tree.mask].mean() > 2.0 * clean[~tree.mask].mean()


def test_vessel_profile_is_soft_and_bigger_vessels_are_brighter() -> None:
    tree = vessel_tree(seed=0)
    clean = clean_nir(tree, seed=0, psf_sigma=0.0, background=0.0)
    # soft profile: inside one vessel the centre is brighter than the rim
    inner = ndimage.binary_erosion(tree.mask, iterations=2)
    rim = tree.mask & ~ndimage.binary_erosion(tree.mask)
    assert clean[inner].mean() > 1.2 * clean[rim].mean()
    # pixels on thick vessels are brighter than on thin ones
    thick = tree.mask & (tree.radius > 4)
    thin = tree.mask & (tree.radius < 2)
    assert clean[thick].mean() > clean[thin].mean()


def test_render_nir_dtype_range_and_reproducibility() -> None:
    tree = vessel_tree(seed=1)
    image = render_nir(tree, seed=1)
    assert image.dtype == np.uint16 and image.shape == tree.mask.shape
    assert np.array_equal(image, render_nir(tree, seed=1))
    assert not np.array_equal(image, render_nir(tree, seed=2))
    assert image[tree.mask].mean() > 2.0 * image[~tree.mask].mean()
    # peak expected count lands at ~60% of the 16-bit range
    assert 0.5 * 65535 < np.percentile(image, 99.99) < 0.75 * 65535
    assert render_nir(tree, seed=1, peak=1000.0).max() < 1300
    twelve = render_nir(tree, seed=1, bit_depth=12)
    assert twelve.max() <= 4095 and twelve.max() > 2000
    with pytest.raises(ValueError):
        render_nir(tree, bit_depth=17)


def test_poisson_gaussian_statistics() -> None:
    rng = np.random.default_rng(0)
    clean = np.full((200, 200), 0.5, np.float32)
    counts = poisson_gaussian(clean, photons=100.0, read_noise=3.0, rng=rng)
    assert counts.dtype == np.float32
    assert counts.mean() == pytest.approx(50.0, rel=0.02)
    assert counts.var() == pytest.approx(50.0 + 9.0, rel=0.05)  # shot variance + read variance


def test_lowlight_pair_is_aligned_and_much_noisier() -> None:
    low, high = lowlight_pair((128, 128), seed=3)
    assert low.dtype == high.dtype == np.uint16 and low.shape == high.shape == (128, 128)
    assert low.max() < 0.05 * high.max()  # a short exposure: far darker
    clean = clean_nir(vessel_tree((128, 128), 3), 3).astype(np.float64)
    # each image back on the clean image's [0, 1] scale, by least squares against the clean image
    def rescaled(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        return x * float(np.sum(x * clean) / np.sum(x * x))

    psnr_low, psnr_high = _psnr(clean, rescaled(low)), _psnr(clean, rescaled(high))
    assert psnr_high - psnr_low > 10.0
    # same scene: strongly correlated after smoothing away the noise
    smooth = ndimage.gaussian_filter(low.astype(float), 3)
    assert np.corrcoef(smooth.ravel(), high.astype(float).ravel())[0, 1] > 0.9
    # the high-quality image is exactly render_nir of the same tree and seed
    assert np.array_equal(high, render_nir(vessel_tree((128, 128), 3), 3))


def test_lowres_pair_shapes_and_lost_detail() -> None:
    lr_small, lr_up, hr = lowres_pair((128, 96), seed=1, scale=4)
    assert lr_small.shape == (32, 24) and lr_up.shape == hr.shape == (128, 96)
    assert lr_small.dtype == lr_up.dtype == hr.dtype == np.uint16

    def gradient_energy(x: np.ndarray) -> float:
        gy, gx = np.gradient(x.astype(np.float64))
        return float(np.mean(gy**2 + gx**2))

    assert gradient_energy(lr_up) < 0.5 * gradient_energy(hr)
    # intensities preserved on average (no scaling error in the resampling)
    assert lr_up.mean() == pytest.approx(hr.mean(), rel=0.02)
    assert lr_small.mean() == pytest.approx(hr.mean(), rel=0.02)


def test_unpaired_domains_use_disjoint_trees() -> None:
    low, high = unpaired_domains(3, (64, 64), seed=0)
    assert len(low) == len(high) == 3
    assert all(x.shape == (64, 64) and x.dtype == np.uint16 for x in low + high)
    assert np.mean([x.mean() for x in low]) < 0.1 * np.mean([x.mean() for x in high])
    # no high-quality image shows the scene of a low-light one
    for lo in low:
        smooth = ndimage.gaussian_filter(lo.astype(float), 2).ravel()
        for hi in high:
            assert np.corrcoef(smooth, hi.astype(float).ravel())[0, 1] < 0.8
    # its seeds stay below the limit that keeps held-out evaluation seeds unseen in training
    import napari_vesselgan.data.nir as nir

    drawn = np.random.default_rng(0).choice(nir.TRAINING_SEED_LIMIT, size=6, replace=False)
    assert np.array_equal(low[0], lowlight_pair((64, 64), int(drawn[0]))[0])
    assert np.array_equal(high[0], lowlight_pair((64, 64), int(drawn[3]))[1])
    again = unpaired_domains(3, (64, 64), seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(low + high, again[0] + again[1], strict=True))


# --- sample data ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated() -> dict[str, np.ndarray]:
    return samples.make_samples()


def test_make_samples_contents(generated: dict[str, np.ndarray]) -> None:
    assert set(generated) == set(samples.SAMPLE_FILES)
    mask = generated["vessel_mask"]
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    assert generated["nir"].dtype == generated["lowlight_nir"].dtype == np.uint16
    assert generated["lowres_nir"].shape == (64, 64)
    # pairing: the mask is the tree of the NIR image
    assert generated["nir"][mask > 0].mean() > 2 * generated["nir"][mask == 0].mean()


def test_committed_sample_files_match_the_generator(generated: dict[str, np.ndarray]) -> None:
    from napari_vesselgan.io import read_image

    folder = samples.sample_data_dir()
    if not folder.is_dir():
        pytest.skip("no sample_data/ folder (installed package)")
    total = 0
    for key, name in samples.SAMPLE_FILES.items():
        path = folder / name
        assert path.is_file(), f"{path} missing: run scripts/make_sample_data.py"
        assert np.array_equal(read_image(path), generated[key]), f"{path} is stale"
        total += path.stat().st_size
    assert total < 3_000_000  # the 12-frame FFA video is ~1.5 MB of it
    assert (folder / "README.md").is_file()


@pytest.mark.parametrize(
    ("func", "layer_type", "dtype"),
    [
        (samples.sample_mask, "labels", np.uint8),
        (samples.sample_nir, "image", np.uint16),
        (samples.sample_lowlight_nir, "image", np.uint16),
        (samples.sample_lowres_nir, "image", np.uint16),
    ],
)
def test_sample_layer_tuples(func, layer_type: str, dtype, monkeypatch, tmp_path, generated) -> None:
    (data, kwargs, kind), = func()
    assert kind == layer_type and data.dtype == dtype
    assert kwargs["name"] and kwargs["metadata"]["source"]
    # without the sample_data folder (a wheel install) the same arrays are regenerated
    monkeypatch.setattr(samples, "sample_data_dir", lambda: tmp_path / "absent")
    (fallback, fallback_kwargs, fallback_kind), = func()
    assert fallback_kind == kind and np.array_equal(fallback, data)
    assert "generated" in fallback_kwargs["metadata"]["source"]


def test_lowres_sample_overlays_the_nir_sample() -> None:
    (_, kwargs, _), = samples.sample_lowres_nir()
    assert kwargs["scale"] == (4.0, 4.0) and kwargs["translate"] == (1.5, 1.5)


def test_sample_fundus_is_the_real_rgb_photo() -> None:
    (data, kwargs, kind), = samples.sample_fundus()
    assert kind == "image" and kwargs["rgb"] is True
    assert data.shape == (1411, 1411, 3) and data.dtype == np.uint8
    assert "retina" in kwargs["metadata"]["source"]
