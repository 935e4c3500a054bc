"""The vessel extractor on eyes: field of view, polarity, scales, threshold; real images when shared."""

from __future__ import annotations

import numpy as np
import pytest

from napari_vesselgan.analysis.vessel_mask import (
    auto_sigmas,
    dice,
    extract_vessel_mask,
    extract_vessels,
    field_of_view,
    grey_plane,
    prepare,
)
from napari_vesselgan.data.fundus import fundus_pair


@pytest.fixture(scope="module")
def eye():
    """A small synthetic eye: 8-bit photo and angiogram, vessels and field known."""
    pair = fundus_pair((256, 256), 424_242)
    return (np.rint(pair.fundus * 255).astype(np.uint8), np.rint(pair.ffa * 255).astype(np.uint8), pair.anatomy)


def test_photo_field_polarity_and_vessels(eye):
    photo, _, anatomy = eye
    before = photo.copy()
    mask, decided = extract_vessels(photo)
    np.testing.assert_array_equal(photo, before)
    assert mask.shape == photo.shape[:2] and mask.dtype == bool
    assert decided.dark_vessels  # a colour photo: dark vessels, green channel
    assert dice(decided.fov, anatomy.fov) > 0.95 and not (decided.fov & ~anatomy.fov).any()
    assert not (mask & ~anatomy.fov).any()  # nothing outside the field, and the rim is no vessel
    score = dice(mask, anatomy.vessels, anatomy.fov)
    assert score > 0.6  # measured 0.69 at this small size (0.84 at 565 px: benchmarks/bench_vessel_mask.py)
    # the old default (Otsu over the whole frame, no field) puts the aperture's rim in the mask
    rim = anatomy.fov & ~decided.fov
    old = extract_vessel_mask(grey_plane(photo)[0], sigmas=(0.5, 1.0, 2.0), dark_vessels=True, fov=False,
                              threshold="otsu")
    assert mask[rim].mean() < 0.05 < old[rim].mean()  # measured 0 and 0.28


@pytest.mark.parametrize("side", [128, 192])
def test_a_small_real_photos_rim_is_no_vessel(side):
    """scikit-image's real retina shrunk to a network's working size keeps a 1-2 px dark rim: it
    must not come out as a ring-shaped vessel (a 1 px rim band left half of the rim in the mask)."""
    from scipy import ndimage
    from skimage import data as skdata
    from skimage.transform import resize

    photo = resize(skdata.retina(), (side, side), anti_aliasing=True)
    mask, decided = extract_vessels(photo)
    band = decided.fov & ~ndimage.binary_erosion(decided.fov, iterations=3)
    assert mask[band].mean() < 0.25  # measured 0.15 at both sizes (0.11 at 512 px); 0.48-0.54 before


def test_angiogram_is_bright_and_override_works(eye):
    _, ffa, anatomy = eye
    mask, decided = extract_vessels(ffa)
    assert not decided.dark_vessels
    assert dice(mask, anatomy.vessels, anatomy.fov) > 0.55  # measured 0.65 (0.82 at 565 px)
    wrong = extract_vessel_mask(ffa, dark_vessels=True)
    assert dice(wrong, anatomy.vessels, anatomy.fov) < 0.3  # measured 0.01
    inverted = extract_vessels(255 - ffa, fov=anatomy.fov)[1]
    assert inverted.dark_vessels


def test_scales_follow_the_field_and_grey_rgb_is_grey(eye):
    assert auto_sigmas(1080) == tuple(2 * s for s in auto_sigmas(540))
    assert min(auto_sigmas(50)) >= 0.5
    _, ffa, _ = eye
    as_rgb = np.repeat(ffa[..., None], 3, axis=-1)
    assert grey_plane(as_rgb)[1] is False
    np.testing.assert_array_equal(extract_vessel_mask(as_rgb), extract_vessel_mask(ffa))
    assert field_of_view(grey_plane(ffa)[0]).mean() < 0.8
    assert field_of_view(np.random.default_rng(0).random((64, 64))).all()  # no surround: the whole frame


def test_bad_options():
    image = np.zeros((32, 32))
    with pytest.raises(ValueError, match="fraction"):
        extract_vessel_mask(image, fraction=1.5)
    with pytest.raises(ValueError, match="threshold"):
        extract_vessel_mask(image + np.eye(32), threshold="median")
    with pytest.raises(ValueError, match="field-of-view"):
        extract_vessel_mask(image, fov=np.ones((8, 8), bool))
    with pytest.raises(ValueError, match="scales"):
        extract_vessel_mask(image, sigmas="big")


# ----- real images (../shared/real; skipped when absent) ----------------------------------------
def _read(path):
    import imageio.v3 as iio

    return np.asarray(iio.imread(path))


def test_real_angiograms_are_bright_and_red_free_frames_dark(real_dir):
    frames = real_dir / "ffa-frames" / "phase"
    for folder, dark in (("arterial_phase", False), ("venous_phase", False), ("non_ffa", True)):
        paths = sorted((frames / folder).glob("*.jpg"))[:3]
        assert paths
        decided = [prepare(_read(p))[1].dark_vessels for p in paths]
        # measured: 20 of 20 right for each angiogram phase, 9 of 10 red-free frames
        assert sum(d == dark for d in decided) >= 2, (folder, decided)


def test_real_uwf_slo_and_its_angiogram_agree(real_dir):
    from skimage.transform import downscale_local_mean

    slo = downscale_local_mean(_read(real_dir / "uwf-slo-fa" / "slo_2.jpg").astype(np.float32), (8, 8, 1))
    fa = downscale_local_mean(_read(real_dir / "uwf-slo-fa" / "fa_2.jpg").astype(np.float32), (8, 8))
    from_slo, slo_decided = extract_vessels(slo, sigmas=(0.7, 1.0, 1.5))
    from_fa, fa_decided = extract_vessels(fa, sigmas=(0.7, 1.0, 1.5))
    assert slo_decided.dark_vessels and not fa_decided.dark_vessels
    both = slo_decided.fov & fa_decided.fov
    assert 0.5 < both.mean() < 0.95  # the black surround and the lids are out
    score = dice(from_slo, from_fa, both)
    assert score > 0.3  # measured 0.4; a misregistered mask scores far less
    assert score > 1.5 * dice(from_slo, np.roll(from_fa, 25, axis=1), both)


# ----- renderer realism statistics --------------------------------------------------------------
def test_eye_statistics_tell_photos_from_angiograms_and_the_fitted_style_differs(eye):
    from napari_vesselgan.data.eye_statistics import eye_statistics
    from napari_vesselgan.data.fundus import FITTED_FFA_STYLE, FundusStyle, render_ffa, render_fundus

    photo, ffa, anatomy = eye
    of_photo, of_ffa = eye_statistics(photo), eye_statistics(ffa)
    assert of_photo["vessel_contrast"] < 0 < of_ffa["vessel_contrast"]
    assert "chroma_r" in of_photo and "chroma_r" not in of_ffa
    assert 0.5 < of_ffa["vignetting"] < 1.0 and of_ffa["noise"] > 0 and of_ffa["spectrum_slope"] < 0
    fitted = np.rint(render_ffa(anatomy, 424_242, style=FITTED_FFA_STYLE) * 255).astype(np.uint8)
    # real angiograms' background is about twice as textured as the classic renderer's
    assert eye_statistics(fitted)["background_cv"] > of_ffa["background_cv"]
    # a photo's foveal pit is measured where photo_anatomy finds the fovea (real retina: 0.55)
    assert "fovea_depth" in of_photo and "fovea_depth" not in of_ffa
    pitted = render_fundus(anatomy, 424_242, style=FundusStyle(fovea_pit=0.05))
    assert eye_statistics(np.rint(pitted * 255).astype(np.uint8))["fovea_depth"] < of_photo["fovea_depth"] - 0.1
