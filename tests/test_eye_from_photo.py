"""data.eye_from_photo: a photo's own anatomy, and the FFA video rendered from it."""

import numpy as np
import pytest
from skimage import data as skdata
from skimage.transform import resize

from napari_vesselgan import InvalidInput
from napari_vesselgan.analysis.vessel_mask import dice, extract_vessel_mask, extract_vessels
from napari_vesselgan.data.eye_from_photo import grey_to_colour, photo_anatomy, photo_video
from napari_vesselgan.data.fundus import FITTED_FUNDUS_STYLE, fundus_video


@pytest.mark.parametrize("seed", [0, 2, 5])
def test_photo_anatomy_recovers_a_synthetic_eyes_anatomy(seed):
    """Where the truth is known: the trees are found, arteries told from veins far above chance,
    the disc and the fovea placed near theirs."""
    eye = fundus_video((192, 192), seed, leakage="none", fundus_style=FITTED_FUNDUS_STYLE)
    truth, found = eye.anatomy, photo_anatomy(eye.fundus)
    vessels = found.arteries.mask | found.veins.mask
    yy, xx = np.mgrid[:192, :192]
    off_disc = truth.fov & (np.hypot(yy - truth.disc_centre[0], xx - truth.disc_centre[1]) > 1.5 * truth.disc_radius)
    assert dice(vessels, truth.vessels, off_disc) > 0.55  # measured 0.58-0.68 (the disc's vessels are left out)
    veins, arteries = truth.veins.mask, truth.arteries.mask & ~truth.veins.mask
    labelled = vessels & (veins | arteries)
    right = (found.veins.mask & veins) | (found.arteries.mask & arteries)
    assert right.sum() / labelled.sum() > 0.7  # measured 0.81-0.93; chance is 0.5
    assert np.hypot(*np.subtract(found.disc_centre, truth.disc_centre)) < 1.0 * truth.disc_radius
    assert np.hypot(*np.subtract(found.fovea, truth.fovea)) < 2.5 * truth.disc_radius
    assert found.leakage_kind == "none" and not found.leakage.any()


def test_the_video_of_a_real_photo_keeps_its_vessels_and_fills_arteries_first():
    photo = resize(skdata.retina(), (192, 192), anti_aliasing=True).astype(np.float32)
    sample = photo_video(photo, seed=1)
    anatomy, video = sample.anatomy, sample.video
    assert video.shape == (12, 192, 192) and video.dtype == np.float32
    assert not video[:, ~anatomy.fov].any()  # black outside the photo's own field
    photo_vessels, decided = extract_vessels(photo)
    late = extract_vessel_mask(video[-1], dark_vessels=False, fov=decided.fov)
    assert dice(late, photo_vessels, decided.fov) > 0.6
    # the arterial frames light the arteries, not yet the veins; the venous frames both
    arteries = anatomy.arteries.mask & ~anatomy.veins.mask
    ratio = [video[t][arteries].mean() / video[t][anatomy.veins.mask].mean() for t in range(12)]
    assert ratio[2] > 1.3 and abs(ratio[7] - 1.0) < 0.25, ratio


def test_grey_photos_become_colour_ones_with_dark_vessels():
    eye = fundus_video((128, 128), 3, leakage="none")
    grey = eye.fundus[..., 1]
    colour = grey_to_colour(grey)
    assert colour.shape == (128, 128, 3) and colour.dtype == np.float32
    assert not colour[~eye.anatomy.fov].any()
    inside = eye.anatomy.fov & ~eye.anatomy.vessels
    assert colour[eye.anatomy.vessels, 1].mean() < colour[inside, 1].mean()  # vessels stay dark in green
    assert colour[inside, 0].mean() > colour[inside, 1].mean()  # a red retina
    sample = photo_video(grey, seed=0, frames=6)
    assert sample.fundus.shape == (128, 128, 3) and sample.video.shape == (6, 128, 128)
    with pytest.raises(InvalidInput, match="grey image"):
        grey_to_colour(eye.fundus)


def test_an_image_without_vessels_is_refused():
    flat = np.zeros((96, 96, 3), np.float32)
    flat[16:80, 16:80] = (0.7, 0.3, 0.2)
    with pytest.raises(InvalidInput, match="vessels"):
        photo_anatomy(flat)
