"""Registering a real photo / angiogram pair by their vessels, and measuring how well it is registered.

The real ultra-widefield SLO / FA pairs (``real/uwf-slo-fa``) are only "roughly co-registered":
in some pairs the vessels of the angiogram lie tens of pixels from the photo's own, and not by
one global shift (an ultra-widefield image is a curved retina flattened twice, differently).
fundus2ffa's paired losses would learn that blur. So, before training on a pair:

1. both images are reduced (``factor``) and turned into vesselness maps by the project's vessel
   extractor (``analysis.vessel_mask``: field of view, polarity, scales), so a dark-vessel photo
   and a bright-vessel angiogram become comparable;
2. **the error** is measured as local vessel displacements: the shift that best aligns the two
   maps in each block of a grid inside both fields of view (phase correlation, sub-pixel),
   blocks without vessel structure or with implausible shifts left out; the pair's error is the
   median displacement, in pixels of the full image;
3. **the registration** is a smooth dense displacement field, TV-L1 optical flow between the two
   smoothed vesselness maps (scikit-image), smoothed again, scaled up to the full image, and the
   angiogram is warped onto the photo with it;
4. the warped pair is measured the same way; a registration that does not lower the error is
   not used (the pair is returned as it was), so it never makes a pair worse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_vesselgan import InvalidInput


@dataclass(frozen=True)
class PairRegistration:
    """An angiogram warped onto its photo, the displacement used and the error before and after."""

    angiogram: np.ndarray  # the angiogram in the photo's frame: its own dtype, the photo's height and width
    flow: np.ndarray  # float32 (2, Y, X): out[y, x] = angiogram[y + flow[0], x + flow[1]], px of the full image
    error_before: float  # median local vessel displacement, px of the full image
    error_after: float
    blocks: int  # blocks that carried vessels on both sides (the error's sample)
    applied: bool  # False: the flow did not lower the error; ``angiogram`` is the input unchanged


def vessel_map(image: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """The vesselness of ``image`` reduced by ``factor`` (block mean), scaled to its 99th
    percentile inside the field of view, and that field (bool)."""
    from skimage.transform import downscale_local_mean

    from napari_vesselgan.analysis.vessel_mask import prepare, vesselness

    image = np.asarray(image, np.float32)
    small = downscale_local_mean(image, (factor, factor, 1)[: image.ndim]) if factor > 1 else image
    _, preparation = prepare(small)
    response = vesselness(small, sigmas=preparation.sigmas, dark_vessels=preparation.dark_vessels,
                          fov=preparation.fov)
    field = preparation.fov
    top = float(np.percentile(response[field], 99)) if field.any() else 0.0
    return np.clip(response / max(top, 1e-6), 0.0, 1.0).astype(np.float32), field


def local_displacements(fixed: np.ndarray, moving: np.ndarray, field: np.ndarray, *, block: int = 96,
                        step: int = 48, max_shift: float = 40.0) -> np.ndarray:
    """(N, 2) shifts (row, col) that move each block of ``moving`` onto ``fixed``, for the blocks
    of a grid that lie mostly (70 %) inside ``field`` and carry structure on both sides; shifts
    beyond ``max_shift`` (a block matched to the wrong vessel) are left out."""
    from skimage.registration import phase_cross_correlation

    shifts = []
    height, width = fixed.shape
    for y in range(0, height - block + 1, step):
        for x in range(0, width - block + 1, step):
            window = (slice(y, y + block), slice(x, x + block))
            a, b = fixed[window], moving[window]
            if field[window].mean() < 0.7 or a.std() < 1e-3 or b.std() < 1e-3:
                continue
            shift, _, _ = phase_cross_correlation(a, b, upsample_factor=4, normalization=None)
            if np.hypot(*shift) <= max_shift:
                shifts.append(shift)
    return np.asarray(shifts, np.float64).reshape(-1, 2)


def registration_error(fixed: np.ndarray, moving: np.ndarray, field: np.ndarray, factor: int = 1) -> tuple[float, int]:
    """Median local vessel displacement between two vesselness maps (px of the full image, i.e.
    times ``factor``) and the number of blocks it was measured on (NaN, 0 without any)."""
    shifts = local_displacements(fixed, moving, field)
    if len(shifts) == 0:
        return float("nan"), 0
    return float(np.median(np.hypot(shifts[:, 0], shifts[:, 1])) * factor), len(shifts)


def register_pair(photo: np.ndarray, angiogram: np.ndarray, *, factor: int = 4, smoothing: float = 12.0) -> PairRegistration:
    """Warp ``angiogram`` onto ``photo`` by their vessels (see the module's notes); inputs unchanged.

    ``photo``: (Y, X) or (Y, X, 3); ``angiogram``: (Y, X) or (Y, X, C) of the same height and
    width. ``factor``: the reduction the maps and the flow are computed at (4 for a ~3900 px
    ultra-widefield image). ``smoothing``: sigma (reduced px) of the Gaussian that keeps the flow
    smooth, so it follows the retina's deformation and not single vessels.
    """
    from skimage.registration import optical_flow_tvl1
    from skimage.transform import resize, warp

    photo, angiogram = np.asarray(photo), np.asarray(angiogram)
    if photo.shape[:2] != angiogram.shape[:2]:
        raise InvalidInput(f"a pair must share its height and width: photo {photo.shape[:2]}, "
                           f"angiogram {angiogram.shape[:2]}")
    if factor < 1 or min(photo.shape[:2]) // factor < 64:
        raise InvalidInput(f"factor {factor} leaves too small an image ({photo.shape[:2]}) to register")
    fixed, fixed_field = vessel_map(photo, factor)
    moving, moving_field = vessel_map(angiogram, factor)
    field = fixed_field & moving_field
    before, blocks = registration_error(fixed, moving, field, factor)
    flow_small = np.stack(optical_flow_tvl1(ndimage.gaussian_filter(fixed, 2), ndimage.gaussian_filter(moving, 2),
                                            attachment=5, tightness=0.3))
    flow_small = np.stack([ndimage.gaussian_filter(f, smoothing) for f in flow_small])
    rows, cols = np.mgrid[: fixed.shape[0], : fixed.shape[1]]
    warped_map = warp(moving, np.array([rows + flow_small[0], cols + flow_small[1]]), mode="edge")
    after, _ = registration_error(fixed, warped_map, field, factor)
    height, width = photo.shape[:2]
    flow = np.stack([resize(f, (height, width), order=1, mode="edge") * factor for f in flow_small]).astype(np.float32)
    if not np.isfinite(before) or not after < before:
        return PairRegistration(angiogram.copy(), np.zeros_like(flow), before, before, blocks, applied=False)
    return PairRegistration(warp_image(angiogram, flow), flow, before, after, blocks, applied=True)


def warp_image(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` (Y, X) or (Y, X, C) resampled at (y + flow[0], x + flow[1]), linear, in its own dtype."""
    height, width = image.shape[:2]
    rows, cols = np.mgrid[:height, :width].astype(np.float32)
    coords = [rows + flow[0], cols + flow[1]]
    planes = image[..., None] if image.ndim == 2 else image
    out = np.stack([ndimage.map_coordinates(planes[..., c].astype(np.float32), coords, order=1, mode="nearest")
                    for c in range(planes.shape[-1])], axis=-1)
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    out = out.astype(image.dtype)
    return out[..., 0] if image.ndim == 2 else out
