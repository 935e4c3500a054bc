"""Statistics that tell a real fundus photo or angiogram from a rendered one, image by image.

Used to fit the synthetic eye renderer (``data.fundus``) to real images and to report how
close it is (``benchmarks/bench_eye_realism.py``). All are measured inside the field of view
found by ``analysis.vessel_mask.field_of_view``, on the grey plane the vessel extractor uses
(green channel of a colour photo), with the vessels found by ``extract_vessels``:

* ``vessel_contrast``: (median vessel - median background) / median background; negative
  for dark vessels (photos), positive for bright ones (angiograms)
* ``background_cv``: robust spread of the background (1.4826 MAD / median): choroidal texture
  and illumination together
* ``spectrum_slope``: slope of the log radial power spectrum of the background over 4-64
  cycles per field (a steeper slope: smoother, blotchier texture)
* ``noise``: the noise's standard deviation relative to the background's median (wavelet
  estimate, ``skimage.restoration.estimate_sigma``)
* ``vignetting``: median brightness of the field's outer ring (0.75-0.95 of its radius) over
  its centre (< 0.35)
* ``vessel_fraction``: share of the field the extractor calls vessel
* ``colour`` (colour photos only): the field's mean chromaticity r, g (of r + g + b)
* ``fovea_depth`` (colour photos only): the mean of the fovea (within half a disc radius) over the
  median of the vessel-free retina 1.5-3 disc radii round it, with the fovea and disc that
  ``data.eye_from_photo.photo_anatomy`` finds (below 1: a dark foveal pit)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

STATISTICS = ("vessel_contrast", "background_cv", "spectrum_slope", "noise", "vignetting", "vessel_fraction")


def _radial(fov: np.ndarray) -> np.ndarray:
    """Distance from the field's centroid over its equivalent radius."""
    yy, xx = np.nonzero(fov)
    cy, cx = yy.mean(), xx.mean()
    radius = np.sqrt(fov.sum() / np.pi)
    grid_y, grid_x = np.mgrid[: fov.shape[0], : fov.shape[1]]
    return np.hypot(grid_y - cy, grid_x - cx) / max(radius, 1.0)


def spectrum_slope(plane: np.ndarray, fov: np.ndarray, vessels: np.ndarray) -> float:
    """Log-log slope of the background's radial power spectrum (vessels and outside filled smooth)."""
    from napari_vesselgan.analysis.vessel_mask import fill_outside

    keep = fov & ~ndimage.binary_dilation(vessels, iterations=2)
    filled = fill_outside(plane, keep, 3.0)
    yy, xx = np.nonzero(fov)
    side = int(min(np.ptp(yy), np.ptp(xx)) / np.sqrt(2))  # the square inscribed in the field
    cy, cx = int(yy.mean()), int(xx.mean())
    half = max(8, side // 2)
    crop = filled[max(0, cy - half): cy + half, max(0, cx - half): cx + half]
    crop = crop - crop.mean()
    window = np.outer(np.hanning(crop.shape[0]), np.hanning(crop.shape[1]))
    power = np.abs(np.fft.fftshift(np.fft.fft2(crop * window))) ** 2
    fy = np.fft.fftshift(np.fft.fftfreq(crop.shape[0])) * crop.shape[0]
    fx = np.fft.fftshift(np.fft.fftfreq(crop.shape[1])) * crop.shape[1]
    radius = np.hypot(*np.meshgrid(fy, fx, indexing="ij"))
    bins = np.arange(4, 65)
    index = np.digitize(radius.ravel(), bins)
    sums = np.bincount(index, power.ravel(), minlength=len(bins) + 1)
    counts = np.bincount(index, minlength=len(bins) + 1)
    centres = 0.5 * (bins[:-1] + bins[1:])
    means = sums[1:len(bins)] / np.maximum(counts[1:len(bins)], 1)
    valid = means > 0
    if valid.sum() < 3:
        return float("nan")
    return float(np.polyfit(np.log(centres[valid]), np.log(means[valid]), 1)[0])


def eye_statistics(image: np.ndarray) -> dict[str, float]:
    """The statistics above for one photo or angiogram (any dtype; colour or grey)."""
    from skimage.restoration import estimate_sigma

    from napari_vesselgan.analysis.vessel_mask import extract_vessels, grey_plane

    array = np.asarray(image)
    grey, colour = grey_plane(array)
    vessels, preparation = extract_vessels(array)
    fov = preparation.fov
    background = fov & ~ndimage.binary_dilation(vessels, iterations=2)
    level = float(np.median(grey[background])) if background.any() else 0.0
    level = max(level, 1e-3)
    vessel_level = float(np.median(grey[vessels])) if vessels.any() else level
    spread = 1.4826 * float(np.median(np.abs(grey[background] - level))) if background.any() else 0.0
    radial = _radial(fov)
    centre, ring = fov & (radial < 0.35), fov & (radial > 0.75) & (radial < 0.95)
    vignetting = float(np.median(grey[ring]) / max(np.median(grey[centre]), 1e-3)) if ring.any() and centre.any() \
        else float("nan")
    noise = float(estimate_sigma(np.where(fov, grey, level), channel_axis=None)) / level
    stats = {"vessel_contrast": (vessel_level - level) / level, "background_cv": spread / level,
             "spectrum_slope": spectrum_slope(grey, fov, vessels), "noise": noise, "vignetting": vignetting,
             "vessel_fraction": float(vessels[fov].mean()) if fov.any() else 0.0}
    if colour:
        rgb = np.asarray(array[..., :3], np.float64)[fov]
        total = np.maximum(rgb.sum(axis=1), 1e-6)
        stats["chroma_r"] = float(np.mean(rgb[:, 0] / total))
        stats["chroma_g"] = float(np.mean(rgb[:, 1] / total))
        stats["fovea_depth"] = fovea_depth(array, grey)
    return stats


def fovea_depth(photo: np.ndarray, grey: np.ndarray) -> float:
    """The fovea's brightness over its surround (see above); NaN where no anatomy is found."""
    from napari_vesselgan import InvalidInput
    from napari_vesselgan.data.eye_from_photo import photo_anatomy

    rgb = np.asarray(photo[..., :3], np.float64)
    try:
        anatomy = photo_anatomy((rgb / max(float(rgb.max()), 1e-6)).astype(np.float32))
    except InvalidInput:
        return float("nan")
    return fovea_over_surround(grey, anatomy)


def fovea_over_surround(plane: np.ndarray, anatomy) -> float:
    """Mean of ``plane`` within half a disc radius of ``anatomy``'s fovea over its median on the
    vessel-free field 1.5-3 disc radii round it (below 1: dark there; NaN where either is empty)."""
    yy, xx = np.mgrid[: plane.shape[0], : plane.shape[1]]
    to_fovea = np.hypot(yy - anatomy.fovea[0], xx - anatomy.fovea[1]) / anatomy.disc_radius
    spot = to_fovea < 0.5
    around = (to_fovea > 1.5) & (to_fovea < 3.0) & anatomy.fov & ~anatomy.vessels
    if not spot.any() or not around.any():
        return float("nan")
    return float(plane[spot].mean() / max(float(np.median(plane[around])), 1e-6))


def summarise(records: list[dict[str, float]]) -> dict[str, float]:
    """Median of each statistic over images (NaN-safe)."""
    keys = sorted({key for record in records for key in record})
    return {key: float(np.nanmedian([record.get(key, np.nan) for record in records])) for key in keys}
