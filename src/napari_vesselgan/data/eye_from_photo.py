"""The anatomy of a real fundus photo, so the renderer can make the FFA video of *that* eye.

A real photo has no angiogram video beside it, but its vessel tree is visible. Here it becomes a
:class:`~napari_vesselgan.data.fundus.FundusAnatomy`: the photo's own field of view, its vessels
(``analysis.extract_vessels``, dark vessels) split into arteries and veins, each pixel's vessel
radius and contrast, the optic disc where the trunks converge and the fovea at the darkest spot
at a disc-to-fovea distance. :func:`photo_video` then renders the video with
:func:`~napari_vesselgan.data.fundus.render_ffa_video`: the structure is the photo's, the dye's
dynamics are the renderer's (arteries, then veins, then the late phase). No leakage is drawn,
since a photo shows none. `fundus2video` trains on these (``real_photos``) next to synthetic eyes.

Arteries and veins are told apart per vessel segment (the skeleton cut at its branch points):
veins are darker and wider than arteries in a colour photo, above all in the red channel, so the
segments that score above the median on contrast and width together are veins. That split is a
heuristic; it only moves which vessels fill first in the arterial frames.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from napari_vesselgan import InvalidInput
from napari_vesselgan.analysis.vessel_mask import extract_vessels, field_size

from .fundus import FITTED_FFA_STYLE, FITTED_FUNDUS_STYLE, FfaStyle, FundusAnatomy, FundusVideo, render_ffa_video
from .vessels import VesselTree

__all__ = ["colour_photo", "grey_to_colour", "photo_anatomy", "photo_video"]

_NEIGHBOURS = np.ones((3, 3), bool)
# Where the optic disc and the fovea sit, as fractions of the field's equivalent diameter
# (a 45-degree photo: the disc ~1/7 of the field across, the fovea ~2.5 disc diameters away).
_DISC_RADIUS = 0.065
_FOVEA_DISTANCE = (0.25, 0.45)
_FOVEA_FROM_CENTRE = 0.25  # the fovea lies near the photo's centre (at most this far, of the diameter)
_MIN_PIECE = 0.03
_DISC_CLEARED = 1.2  # vessels found within this many disc radii of its centre are dropped
_AVASCULAR_ZONE = 0.8  # ... and within this many disc radii of the fovea


def grey_to_colour(grey: np.ndarray, colour: tuple[float, float, float] = FITTED_FUNDUS_STYLE.colour) -> np.ndarray:
    """A grey (red-free or infrared) fundus photo as a colour one: float32 (H, W, 3) in [0, 1].

    The grey level, relative to the field's median, modulates the retina's ``colour`` fully in the
    green and blue channels and a quarter in the red one, where vessels show least in a real
    photo. Black stays black. For training inputs only: it is not a real colour photo.
    """
    grey = np.asarray(grey, np.float32)
    if grey.ndim != 2:
        raise InvalidInput(f"grey_to_colour takes one grey image (H, W), got shape {grey.shape}")
    lit = grey > 0.05 * max(float(grey.max()), 1e-6)
    relative = grey / max(float(np.median(grey[lit])) if lit.any() else 1.0, 1e-6)
    red = np.where(lit, 1.0 + 0.25 * (relative - 1.0), 0.0)
    rgb = np.stack([red, relative, relative], axis=-1) * np.asarray(colour, np.float32)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def colour_photo(photo: np.ndarray) -> np.ndarray:
    """``photo`` as float32 (H, W, 3): a colour photo as it is (alpha dropped); a grey one, (H, W)
    or three identical channels, coloured by :func:`grey_to_colour`."""
    photo = np.asarray(photo, np.float32)
    if photo.ndim == 3 and photo.shape[-1] >= 3 and np.ptp(photo[..., :3], axis=-1).max() == 0:
        photo = photo[..., 0]  # grey stored as RGB
    if photo.ndim == 2:
        return grey_to_colour(photo)
    if photo.ndim != 3 or photo.shape[-1] < 3:
        raise InvalidInput(f"expected a fundus photo (H, W, 3) or a grey fundus image (H, W), got shape {photo.shape}")
    return photo[..., :3]


def _segments(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels of the skeleton's segments (cut at branch points) and, per pixel of ``mask``, the
    index (flat) of its nearest segment pixel."""
    skeleton = skeletonize(mask)
    neighbours = ndimage.convolve(skeleton.astype(np.uint8), _NEIGHBOURS.astype(np.uint8), mode="constant") - 1
    branches = ndimage.binary_dilation(skeleton & (neighbours > 2), _NEIGHBOURS)
    segments, _ = ndimage.label(skeleton & ~branches, _NEIGHBOURS)
    if not segments.any():
        segments, _ = ndimage.label(skeleton, _NEIGHBOURS)
    _, nearest = ndimage.distance_transform_edt(segments == 0, return_indices=True)
    return segments, np.ravel_multi_index(tuple(nearest), mask.shape)


def _contrast(plane: np.ndarray, vessels: np.ndarray, fov: np.ndarray, sigma: float) -> np.ndarray:
    """How much darker each pixel is than its vessel-free surround: 1 - plane / background."""
    around = (fov & ~vessels).astype(np.float64)
    weight = np.maximum(ndimage.gaussian_filter(around, sigma), 1e-6)
    background = ndimage.gaussian_filter(plane * around, sigma) / weight
    return np.where(vessels, 1.0 - plane / np.maximum(background, 1e-6), 0.0)


def photo_anatomy(photo: np.ndarray) -> FundusAnatomy:
    """The anatomy of a real fundus photo, float in [0, 1] (a grey one is coloured: :func:`colour_photo`).

    Vessels come from ``analysis.extract_vessels`` (dark vessels, its defaults); an image with
    hardly any (under 1 % of its field) is refused, since its video would be empty.
    """
    photo = colour_photo(photo)
    # pieces smaller than ~ a disc radius squared are choroidal texture more often than vessels
    vessels, decided = extract_vessels(photo, dark_vessels=True, min_size=int((_MIN_PIECE * min(photo.shape[:2])) ** 2))
    fov = decided.fov
    if vessels.sum() < 0.01 * fov.sum():
        raise InvalidInput("hardly any vessels found in the photo: no video can be rendered from it")
    shape = vessels.shape
    diameter = field_size(fov)

    # the disc: where the trunks converge (vessel area weighted by width, smoothed); what the
    # extractor found inside it is the disc's rim or cup more often than a vessel (a dark infrared
    # disc comes out as a ring), and the renderer stains the disc anyway
    inner = ndimage.binary_erosion(fov, iterations=max(1, int(0.05 * diameter)))
    convergence = ndimage.gaussian_filter(vessels * ndimage.distance_transform_edt(vessels), 0.06 * diameter)
    disc = np.unravel_index(np.argmax(np.where(inner, convergence, -1.0)), shape)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    vessels = vessels & (np.hypot(yy - disc[0], xx - disc[1]) > _DISC_CLEARED * _DISC_RADIUS * diameter)
    segments, nearest = _segments(vessels)
    radius = ndimage.distance_transform_edt(vessels).ravel()[nearest] * vessels
    pixel_segment = segments.ravel()[nearest] * vessels
    green, red = photo[..., 1].astype(np.float64), photo[..., 0].astype(np.float64)
    green_contrast = _contrast(green, vessels, fov, 0.04 * diameter)
    red_contrast = _contrast(red, vessels, fov, 0.04 * diameter)

    # veins: darker (above all in red) and wider, per segment, split at the median
    labels = np.arange(1, int(segments.max()) + 1)
    if len(labels):
        score_parts = [ndimage.mean(values, pixel_segment, labels) for values in (red_contrast, green_contrast, radius)]
        ranks = [np.argsort(np.argsort(part)) / max(len(labels) - 1, 1) for part in score_parts]
        vein_segment = (ranks[0] + ranks[1] + ranks[2]) / 3 > 0.5
        is_vein = np.zeros(len(labels) + 1, bool)
        is_vein[1:] = vein_segment
        veins = vessels & is_vein[pixel_segment]
    else:
        veins = np.zeros(shape, bool)
    arteries = vessels & ~veins
    # brighter dye where the photo shows the vessel clearly (its depth factor, 0.3..1)
    strong = np.percentile(green_contrast[vessels], 90) if vessels.any() else 1.0
    depth = np.where(vessels, np.clip(green_contrast / max(strong, 1e-6), 0.3, 1.0), 0.0).astype(np.float32)

    # the fovea: the darkest smoothed retina a disc-to-fovea distance from the disc, near the centre
    # (smoothed over ~a disc radius: thin vessels fade, the macula's dark pit does not); no vessel
    # enters its avascular zone, so what the extractor found there (the pit's dark rim round the
    # foveal reflex) is dropped
    smooth = ndimage.gaussian_filter(green, 0.04 * diameter)
    from_disc = np.hypot(yy - disc[0], xx - disc[1]) / diameter
    centre = ndimage.center_of_mass(fov)
    from_centre = np.hypot(yy - centre[0], xx - centre[1]) / diameter
    candidates = inner & (from_disc > _FOVEA_DISTANCE[0]) & (from_disc < _FOVEA_DISTANCE[1]) & \
        (from_centre < _FOVEA_FROM_CENTRE)
    fovea = np.unravel_index(np.argmin(np.where(candidates, smooth, np.inf)), shape) if candidates.any() else \
        (shape[0] / 2, shape[1] / 2)
    outside_zone = np.hypot(yy - fovea[0], xx - fovea[1]) > _AVASCULAR_ZONE * _DISC_RADIUS * diameter
    arteries, veins = arteries & outside_zone, veins & outside_zone

    tree = lambda m: VesselTree(mask=m, radius=(radius * m).astype(np.float32), depth=depth * m)  # noqa: E731
    return FundusAnatomy(shape=shape, fov_centre=(float(centre[0]), float(centre[1])), fov_radius=diameter / 2,
                         disc_centre=(float(disc[0]), float(disc[1])), disc_radius=_DISC_RADIUS * diameter,
                         fovea=(float(fovea[0]), float(fovea[1])), arteries=tree(arteries), veins=tree(veins),
                         leakage_kind="none", leakage=np.zeros(shape, np.float32), field_mask=fov)


def photo_video(photo: np.ndarray, seed: int = 0, *, frames: int = 12,
                style: FfaStyle = FITTED_FFA_STYLE) -> FundusVideo:
    """A real photo and the FFA video rendered from its own anatomy (:func:`photo_anatomy`), in the
    style fitted to real angiograms by default. A grey photo comes back coloured (:func:`colour_photo`)."""
    photo = colour_photo(photo)
    anatomy = photo_anatomy(photo)
    video = render_ffa_video(anatomy, seed, frames=frames, style=style)
    return FundusVideo(fundus=np.clip(photo, 0, 1) * anatomy.fov[..., None], video=video, anatomy=anatomy)
