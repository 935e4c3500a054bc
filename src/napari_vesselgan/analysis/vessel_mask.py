"""Vessel-mask extraction from a fundus photo, an angiogram or a NIR-II image.

The mask is a starting point an annotator then refines (napari Labels layer), the content
domain of `mask2nir`, and the reference extractor that judges how well a generated angiogram
keeps a photo's vessels. Steps, each one a choice an ophthalmic analyst would make:

1. **One grey plane**: a colour photo gives its green channel (the vessels' best contrast;
   grey images stored as RGB give their grey), any dtype, scaled by its own range.
2. **Field of view**: the round aperture of a fundus or FFA image, black borders and, in
   ultra-widefield images, the eyelids / lashes at the edge (bright flat regions touching the
   rim) are found and excluded; outside it the image is filled with a smooth continuation of
   the inside, so the rim's step makes no "vessel", and no pixel outside is ever a vessel.
   Images without a dark surround (NIR-II, light-sheet) keep their whole frame.
3. **Polarity**: vessels darker than the background (colour photos, red-free, SLO) or brighter
   (FFA, NIR-II, fluorescence) is detected from the image (which ridge kind carries more
   Hessian energy inside the field of view), or set with ``dark_vessels``.
4. **Background**: for dark vessels a division by the local illumination (their contrast
   scales with the light reaching them); then whatever lies beyond the local background on
   the side away from the vessels (the disc, bright lesions and reflexes for dark vessels;
   the macula's rim and dark spots for bright ones) is cut to the background, so the gaps
   between bright patches make no "vessels". Optional contrast equalisation (CLAHE).
5. A multi-scale Hessian **vesselness** (``sato`` by default, or ``frangi``); the scales follow
   the field of view's size (tuned at a 540 px-wide fundus field, as in public vessel sets).
6. **Threshold inside the field of view**: ``"auto"`` is hysteresis (strong pixels seed vessels
   that grow into weaker connected ones, so vessels attached to the tree are kept and
   isolated texture is not): in an eye image (a field of view was found) from the top 6 % of
   the field's vesselness into its top ``fraction`` (vessels are ~10-15 % of a fundus field),
   in a full frame (NIR-II, light-sheet, whose vessel share varies widely) from Otsu's level
   of the vesselness down to half of it; ``"percentile"`` keeps the top ``fraction``;
   ``"otsu"`` Otsu's threshold of the inside values; a number in (0, 1) a fraction of the
   largest response.
7. Clean-up: pieces smaller than ``min_size`` px (``"auto"``: scaled with the field) removed,
   holes up to ``max_hole`` px filled.

Stacks (..., Y, X) are handled plane by plane (vessels are judged in 2-D, as an annotator
paints), with one threshold over the whole stack so that planes are treated alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage
from skimage import exposure, filters, morphology
from skimage.measure import regionprops
from skimage.transform import resize

from napari_vesselgan import InvalidInput

VesselnessFilter = Literal["sato", "frangi"]
Threshold = float | Literal["auto", "percentile", "otsu"]

# The default scales are tuned for a fundus field of view this wide (px), as in DRIVE / STARE;
# other sizes scale them (a 1411 px photo by ~2.5), never below _MIN_SIGMA.
REFERENCE_FIELD = 540.0
REFERENCE_SIGMAS = (1.0, 1.5, 2.0, 3.0)
_MIN_SIGMA = 0.5
# "auto" threshold: vessels grow from the top _SEED_FRACTION of the field's vesselness into its
# top ``fraction`` (hysteresis); "percentile" keeps the top ``fraction``.
DEFAULT_FRACTION = 0.15
_SEED_FRACTION = 0.06
# Smallest kept piece at the reference field size (scaled with the field's area).
_REFERENCE_MIN_SIZE = 30


@dataclass(frozen=True)
class Preparation:
    """What the extraction decided about an image before thresholding (reported to the user)."""

    fov: np.ndarray  # bool (..., Y, X): where vessels may be
    dark_vessels: bool
    sigmas: tuple[float, ...]
    field_size: float  # px, the field of view's equivalent diameter


def _is_colour(array: np.ndarray) -> bool:
    """(Y, X, 3 or 4) or a stack of them; a grey stack's last axis is never 3 or 4 px long in practice."""
    return array.ndim >= 3 and array.shape[-1] in (3, 4) and array.shape[-2] > 4 and array.shape[-3] > 4


def grey_plane(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """A float64 grey version of ``image`` in [0, 1] and whether it was a colour (non-grey) image.

    Colour: the green channel (alpha dropped); three identical channels are grey. Grey images
    and stacks (..., Y, X) are scaled by their own range. NaN / infinity and empty images are refused.
    """
    array = np.asarray(image)
    if array.size == 0:
        raise InvalidInput("the image is empty")
    if array.ndim < 2:
        raise InvalidInput(f"expected a 2-D image, a colour photo or a stack, got shape {array.shape}")
    colour = False
    if _is_colour(array):
        rgb = array[..., :3]
        colour = not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))
        array = rgb[..., 1]
    values = np.asarray(array, np.float64)
    if not np.isfinite(values).all():
        raise InvalidInput("the image contains NaN or infinite values; replace them first")
    low, high = float(values.min()), float(values.max())
    return ((values - low) / (high - low) if high > low else np.zeros_like(values)), colour


def field_of_view(plane: np.ndarray) -> np.ndarray:
    """bool (Y, X): the imaged retina / tissue, without a dark surround, black borders or lids.

    The surround is the near-black region connected to the image's edge that either stands
    clearly below the darkest retina (a fundus camera's aperture) or is near-constant (a
    registration's empty border), and leaves a round-ish field; a plane without one (NIR-II,
    light-sheet) is all field. Bright
    flat regions that reach the field's rim and stand far above the retina (eyelids and lashes
    in ultra-widefield images) are removed too. The result is eroded slightly so the rim's
    blur never counts.
    """
    plane = np.asarray(plane, np.float64)
    size = min(plane.shape)
    smooth = ndimage.gaussian_filter(plane, max(1.0, size / 300))
    black, bright = np.percentile(smooth, [0.5, 99.5])
    if bright <= black:
        return np.ones(plane.shape, bool)
    for level, accept in ((0.06, _stands_apart), (0.02, _is_flat)):
        outside = _edge_connected(smooth < black + level * (bright - black))
        if outside.mean() < 0.01 or outside.all() or not accept(plane, outside, bright - black, size):
            continue
        fov = ~outside
        labels, count = ndimage.label(fov)
        if count > 1:
            fov = labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)
        fov = ndimage.binary_fill_holes(fov)
        if regionprops(fov.astype(np.uint8))[0].solidity < 0.85:  # a ragged "field": dark tissue, not an aperture
            continue
        return _rim_eroded(fov & ~_lids(smooth, fov, size), size)
    return np.ones(plane.shape, bool)


def _edge_connected(candidates: np.ndarray) -> np.ndarray:
    labels, _ = ndimage.label(candidates)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return np.isin(labels, edge_labels[edge_labels > 0])


def _cores(outside: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Outside and inside less a band along their border (where blur and JPEG ringing lie)."""
    band = max(2, size // 100)
    return (ndimage.binary_erosion(outside, iterations=band),
            ndimage.binary_erosion(~outside, iterations=band, border_value=1))


def _stands_apart(plane: np.ndarray, outside: np.ndarray, span: float, size: int) -> bool:
    """A camera's surround: even the darkest retina is clearly brighter than the brightest surround.

    (A NIR-II image's dark background merges into its tissue: the two overlap.)
    """
    out_core, in_core = _cores(outside, size)
    if not out_core.any() or not in_core.any():
        return False
    return float(np.percentile(plane[in_core], 2) - np.percentile(plane[out_core], 98)) > 0.05 * span


def _is_flat(plane: np.ndarray, outside: np.ndarray, span: float, size: int) -> bool:
    """An empty border (registration, padding): near-constant black, unlike any tissue background."""
    out_core, _ = _cores(outside, size)
    return bool(out_core.any()) and float(plane[out_core].std()) < 0.005 * span


def _rim_eroded(fov: np.ndarray, size: int) -> np.ndarray:
    """``fov`` less a thin band along its rim (where the aperture's blur lies); a full frame stays whole.

    The band is at least 2 px: a photo shrunk to a few hundred pixels keeps a 1-2 px dark rim
    whatever its size, which a 1 px band left to the filter as a ring-shaped "vessel".
    """
    if fov.all():
        return fov
    eroded = ndimage.binary_erosion(fov, iterations=max(2, int(round(size / 150))), border_value=1)
    return eroded if eroded.any() else fov


def _lids(smooth: np.ndarray, fov: np.ndarray, size: int) -> np.ndarray:
    """Bright blobs touching the field's rim that stand far above the retina (lids, lashes)."""
    broad = ndimage.gaussian_filter(fill_outside(smooth, fov, size / 50), size / 100)
    inside = broad[fov]
    if inside.size == 0:
        return np.zeros(fov.shape, bool)
    median = float(np.median(inside))
    spread = float(np.median(np.abs(inside - median))) + 1e-6
    bright = fov & (broad > median + 3.0 * spread)
    rim = fov & ~ndimage.binary_erosion(fov, iterations=max(2, size // 50), border_value=0)
    labels, count = ndimage.label(bright)
    if count == 0:
        return np.zeros(fov.shape, bool)
    touching = np.unique(labels[rim & bright])
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    keep = [label for label in touching if label > 0 and areas[label] > 0.005 * fov.sum()]
    lids = np.isin(labels, keep)
    return ndimage.binary_dilation(lids, iterations=max(1, size // 60)) & fov if lids.any() else lids


def fill_outside(plane: np.ndarray, fov: np.ndarray, sigma: float) -> np.ndarray:
    """``plane`` with the outside of ``fov`` replaced by a smooth continuation of the inside."""
    if fov.all():
        return plane
    weight = ndimage.gaussian_filter(fov.astype(np.float64), sigma)
    local = ndimage.gaussian_filter(np.where(fov, plane, 0.0), sigma) / np.maximum(weight, 1e-6)
    fallback = float(plane[fov].mean()) if fov.any() else 0.0
    local = np.where(weight > 1e-3, local, fallback)
    return np.where(fov, plane, local)


def field_size(fov: np.ndarray) -> float:
    """The field of view's equivalent diameter in px (a full frame: its smaller side)."""
    if fov.all():
        return float(min(fov.shape))
    return float(2.0 * np.sqrt(fov.sum() / np.pi))


def auto_sigmas(size: float) -> tuple[float, ...]:
    """Vesselness scales for a field of view ``size`` px wide (the reference ones, scaled)."""
    factor = size / REFERENCE_FIELD
    return tuple(sorted({round(max(_MIN_SIGMA, s * factor), 2) for s in REFERENCE_SIGMAS}))


def _ridge_energy(plane: np.ndarray, fov: np.ndarray, sigma: float) -> tuple[float, float]:
    """Mean of the strongest bright-ridge and dark-ridge Hessian responses inside ``fov``."""
    from skimage.feature import hessian_matrix, hessian_matrix_eigvals

    eigen = hessian_matrix_eigvals(hessian_matrix(plane, sigma=sigma, order="rc", mode="reflect",
                                                  use_gaussian_derivatives=False))
    bright = np.clip(-eigen[-1], 0, None)[fov]  # most negative eigenvalue: bright ridge across it
    dark = np.clip(eigen[0], 0, None)[fov]
    if bright.size == 0:
        return 0.0, 0.0
    top = max(1, bright.size // 20)
    return float(np.sort(bright)[-top:].mean()), float(np.sort(dark)[-top:].mean())


def detect_dark_vessels(plane: np.ndarray, fov: np.ndarray, sigma: float) -> bool:
    """True when the image's vessels are darker than their surround (photo, red-free, SLO).

    Compares the strongest 5 % of bright-ridge and dark-ridge Hessian responses at a vessel
    scale inside the field of view (on a copy reduced to ~512 px, for speed): a vessel tree
    is many strong ridges of one kind, the gaps between vessels only weak ones of the other.
    """
    factor = max(1, int(min(plane.shape) // 512))
    small = plane[::factor, ::factor]
    small_fov = fov[::factor, ::factor]
    filled = fill_outside(small, small_fov, 4 * max(1.0, sigma / factor))
    bright, dark = _ridge_energy(filled, small_fov, max(1.0, sigma / factor))
    return dark > bright


def prepare(image: np.ndarray, *, sigmas: Sequence[float] | Literal["auto"] = "auto",
            dark_vessels: bool | None = None, fov: bool | np.ndarray = True) -> tuple[np.ndarray, Preparation]:
    """The grey plane(s) of ``image`` and the extraction's decisions (field, polarity, scales)."""
    grey, colour = grey_plane(image)
    planes = grey.reshape(-1, *grey.shape[-2:])
    if isinstance(fov, np.ndarray):
        fov_mask = np.asarray(fov, bool)
        if fov_mask.shape != grey.shape[-2:] and fov_mask.shape != grey.shape:
            raise InvalidInput(f"the field-of-view mask's shape {fov_mask.shape} does not match the image's "
                               f"{grey.shape[-2:]}")
        fov_mask = np.broadcast_to(fov_mask, grey.shape)
    elif fov:
        # one field for a stack: the union of the planes' fields (same camera, same aperture)
        fov_mask = np.broadcast_to(np.logical_or.reduce([field_of_view(p) for p in planes[:8]]), grey.shape)
    else:
        fov_mask = np.ones(grey.shape, bool)
    first_fov = fov_mask.reshape(-1, *grey.shape[-2:])[0]
    size = field_size(first_fov)
    if isinstance(sigmas, str):
        if sigmas != "auto":
            raise InvalidInput(f"scales must be 'auto' or positive numbers, got {sigmas!r}")
        chosen = auto_sigmas(size)
    else:
        chosen = tuple(float(s) for s in sigmas)
        if not chosen or min(chosen) <= 0:
            raise InvalidInput("sigmas must be positive")
    if dark_vessels is None:
        dark_vessels = True if colour else detect_dark_vessels(planes[0], first_fov, max(chosen))
    return grey, Preparation(fov=np.array(fov_mask), dark_vessels=bool(dark_vessels), sigmas=chosen,
                             field_size=size)


def vesselness(image: np.ndarray, *, sigmas: Sequence[float] | Literal["auto"] = (0.5, 1.0, 2.0),
               method: VesselnessFilter = "sato", dark_vessels: bool | None = False,
               fov: bool | np.ndarray = False, equalize: bool = False) -> np.ndarray:
    """Multi-scale Hessian vesselness of an image or each plane of a stack, float32 >= 0 (0 outside the field)."""
    grey, preparation = prepare(image, sigmas=sigmas, dark_vessels=dark_vessels, fov=fov)
    return _vesselness(grey, preparation, method, equalize)


def _vesselness(grey: np.ndarray, preparation: Preparation, method: str, equalize: bool) -> np.ndarray:
    if method not in ("sato", "frangi"):
        raise InvalidInput(f"unknown vesselness filter {method!r}; use 'sato' or 'frangi'")
    planes = grey.reshape(-1, *grey.shape[-2:])
    fields = preparation.fov.reshape(planes.shape)
    sigmas = preparation.sigmas
    out = np.zeros(planes.shape, np.float32)
    for index, (plane, field) in enumerate(zip(planes, fields)):
        if not field.any():
            continue
        plane = fill_outside(plane, field, 4 * max(sigmas))
        if preparation.dark_vessels:
            # vessel contrast in reflectance scales with the light reaching them: divide it out
            illumination = ndimage.gaussian_filter(plane, 8 * max(sigmas))
            plane = plane / np.maximum(illumination, 0.05 * max(float(illumination.max()), 1e-6))
            plane = plane / max(float(plane.max()), 1e-6)
        plane = _flatten_beyond_background(plane, preparation.dark_vessels, max(sigmas))
        if equalize:
            kernel = max(8, int(min(plane.shape) // 8))
            plane = exposure.equalize_adapthist(np.clip(plane, 0, 1), kernel_size=kernel, clip_limit=0.01)
        if method == "sato":
            response = filters.sato(plane, sigmas=sigmas, black_ridges=preparation.dark_vessels, mode="reflect")
        else:
            response = filters.frangi(plane, sigmas=sigmas, black_ridges=preparation.dark_vessels, mode="reflect")
        out[index] = np.where(field, np.clip(response, 0, None), 0)
    return out.reshape(grey.shape)


def _flatten_beyond_background(plane: np.ndarray, dark_vessels: bool, sigma: float) -> np.ndarray:
    """``plane`` clipped at its local background on the side away from the vessels.

    Dark vessels lie below the background: whatever rises above it (the disc, lesions,
    reflexes) is cut to the background, so the valleys between bright patches make no
    ridges; bright vessels the other way round (the dark macula's rim, dark spots). The
    background is a median over ~10 vessel radii (on a reduced copy, for speed).
    """
    factor = max(1, int(round(sigma)))
    small = plane[::factor, ::factor]
    background = ndimage.median_filter(small, size=max(5, int(round(10 * sigma / factor)) | 1), mode="reflect")
    background = ndimage.gaussian_filter(resize(background, plane.shape, order=1, mode="edge"), factor)
    return np.minimum(plane, background) if dark_vessels else np.maximum(plane, background)


def _threshold_mask(response: np.ndarray, fov: np.ndarray, threshold: Threshold, fraction: float) -> np.ndarray:
    inside = response[fov]
    if inside.size == 0 or float(inside.max()) <= 0:
        return np.zeros(response.shape, bool)
    if threshold == "auto":
        if fov.all():
            # a full frame (NIR-II, light-sheet): the vessel share varies widely, so Otsu's
            # level of the vesselness seeds vessels that grow down to half of it
            high = float(filters.threshold_otsu(inside))
            low = 0.5 * high
        else:
            # an eye: vessels are ~10-15 % of the field; grow from the strongest into the top ``fraction``
            low, high = np.quantile(inside, [1.0 - fraction, 1.0 - min(_SEED_FRACTION, fraction / 2)])
        planes = response.reshape(-1, *response.shape[-2:])
        fields = fov.reshape(planes.shape)
        return np.stack([filters.apply_hysteresis_threshold(p, low, high) & f
                         for p, f in zip(planes, fields)]).reshape(response.shape)
    if threshold == "percentile":
        level = float(np.quantile(inside, 1.0 - fraction))
    elif threshold == "otsu":
        level = float(filters.threshold_otsu(inside))
    else:
        if isinstance(threshold, str) or not 0 < float(threshold) < 1:
            raise InvalidInput(f"threshold must be 'auto', 'percentile', 'otsu' or a fraction in (0, 1), "
                               f"got {threshold!r}")
        level = float(threshold) * float(inside.max())
    return (response > level) & fov


def extract_vessel_mask(image: np.ndarray, **options) -> np.ndarray:
    """A binary vessel mask (bool; the image's shape, a colour photo's (Y, X)) of ``image``.

    The options are :func:`extract_vessels`'s. The input is never modified.
    """
    return extract_vessels(image, **options)[0]


def extract_vessels(image: np.ndarray, *, sigmas: Sequence[float] | Literal["auto"] = "auto",
                    method: VesselnessFilter = "sato", dark_vessels: bool | None = None,
                    threshold: Threshold = "auto", fraction: float = DEFAULT_FRACTION,
                    fov: bool | np.ndarray = True, equalize: bool = False,
                    min_size: int | Literal["auto"] = "auto", max_hole: int = 16) -> tuple[np.ndarray, Preparation]:
    """The vessel mask of ``image`` and what was decided on the way (field, polarity, scales).

    ``sigmas``: the filter's scales (px, about vessel radii) or ``"auto"`` (from the field's
    size). ``dark_vessels``: None detects the polarity; True for photos, False for FFA / NIR.
    ``threshold``: ``"auto"`` (hysteresis inside the field, growing into its top
    ``fraction``), ``"percentile"`` (its top ``fraction``), ``"otsu"``, or a fraction of the
    largest response. ``fov``: find and exclude the field of view's surround (True), use the
    whole frame (False), or a bool mask. ``equalize``: CLAHE before filtering. The input is
    never modified.
    """
    if not 0 < float(fraction) < 1:
        raise InvalidInput(f"fraction must be in (0, 1), got {fraction!r}")
    if min_size != "auto" and (isinstance(min_size, str) or int(min_size) < 0):
        raise InvalidInput(f"min_size must be 'auto' or a number of pixels >= 0, got {min_size!r}")
    grey, preparation = prepare(image, sigmas=sigmas, dark_vessels=dark_vessels, fov=fov)
    response = _vesselness(grey, preparation, method, equalize)
    mask = _threshold_mask(response, preparation.fov, threshold, float(fraction))
    if min_size == "auto":
        min_size = int(round(_REFERENCE_MIN_SIZE * (preparation.field_size / REFERENCE_FIELD) ** 2))
    planes = mask.reshape(-1, *mask.shape[-2:])
    for index in range(len(planes)):
        planes[index] = _clean(planes[index], int(min_size), int(max_hole))
    return planes.reshape(mask.shape), preparation


def _clean(plane: np.ndarray, min_size: int, max_hole: int) -> np.ndarray:
    if min_size > 0:
        plane = morphology.remove_small_objects(plane, max_size=min_size - 1) if _has_max_size() else \
            morphology.remove_small_objects(plane, min_size=min_size)
    if max_hole > 0:
        plane = morphology.remove_small_holes(plane, max_size=max_hole) if _has_max_size() else \
            morphology.remove_small_holes(plane, area_threshold=max_hole + 1)
    return plane


def _has_max_size() -> bool:
    """scikit-image 0.26 renamed min_size/area_threshold to max_size; use whichever this one has."""
    import inspect

    return "max_size" in inspect.signature(morphology.remove_small_objects).parameters


def dice(a: np.ndarray, b: np.ndarray, within: np.ndarray | None = None) -> float:
    """Dice coefficient 2|A and B| / (|A| + |B|) of two binary masks (1.0 when both are empty).

    ``within``: count only these pixels (e.g. the field of view, as vessel benchmarks do).
    """
    a, b = np.asarray(a) != 0, np.asarray(b) != 0
    if a.shape != b.shape:
        raise InvalidInput(f"masks differ in shape: {a.shape} and {b.shape}")
    if within is not None:
        within = np.broadcast_to(np.asarray(within, bool), a.shape)
        a, b = a & within, b & within
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total
