"""Synthetic NIR-II fluorescence images of vessel trees, and the degradations the methods undo.

Image model (all steps deterministic given the seed):

1. Vessel signal: the dye's emission integrated through a cylindrical vessel, i.e. the chord
   length ``2 sqrt(r^2 - d^2)`` at distance ``d`` from the centre line, normalised per vessel so
   the centre is 1 (a soft profile, not a flat disc), times a brightness that grows with the
   radius and with the vessel's depth factor (shallow vessels are brighter).
2. Scattering halo: tissue scatters part of the emission; a wide Gaussian of the signal is added.
3. Tissue background: a smooth inhomogeneous field (Gaussian-filtered white noise) times a soft
   vignette, with mean level ``background`` relative to the brightest vessel.
4. Optics: a Gaussian point-spread function of ``psf_sigma`` px; the result is scaled to [0, 1]
   (:func:`clean_nir`).
5. Camera: Poisson shot noise of ``photons`` expected photons at the brightest pixel plus
   Gaussian read noise (:func:`poisson_gaussian`), converted to counts with a fixed gain so the
   brightest expected value lands at ``peak`` (60% of the 16-bit range by default), clipped and
   rounded (:func:`render_nir`).

Random streams: the tree uses ``default_rng(seed)``; the background field, the noise of the
high-quality image and the noise of the low-light image each use their own stream derived from
the seed, so a low-light / high-quality pair share the tree and the clean image exactly but have
independent noise.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.transform import resize

from .degradation import crop_to_multiple, degrade
from .vessels import VesselTree, vessel_tree

__all__ = [
    "TRAINING_SEED_LIMIT",
    "VALIDATION_SEED_BASE",
    "clean_nir",
    "poisson_gaussian",
    "render_nir",
    "lowlight_pair",
    "lowres_pair",
    "unpaired_domains",
]

# Default brightest expected count as a fraction of the full 16-bit range (head-room for noise).
_PEAK_FRACTION = 0.6
# unpaired_domains draws its image seeds below this; seeds >= it are free for held-out tests.
TRAINING_SEED_LIMIT = 1_000_000
VALIDATION_SEED_BASE = 1_500_000  # held out from training (< 1e6) and from evaluation (1e6 + i)
# Stream tags: keep the streams of one seed independent of each other.
_STREAM_BACKGROUND = 1
_STREAM_NOISE = 2
_STREAM_LOWLIGHT_NOISE = 3


def _stream(seed: int, tag: int) -> np.random.Generator:
    """An independent generator for one purpose (``tag``) of one seed."""
    return np.random.default_rng([int(seed), tag])


def _vessel_signal(tree: VesselTree) -> np.ndarray:
    """Emission per pixel before blur: chord-length profile x radius- and depth-dependent brightness."""
    mask = tree.mask
    if not mask.any():
        return np.zeros(mask.shape, np.float32)
    radius = tree.radius.astype(np.float32)
    # distance from the pixel centre to the vessel wall; the centre line sits ~radius from it
    to_wall = ndimage.distance_transform_edt(mask).astype(np.float32) - 0.5
    r = np.maximum(radius, 0.5)
    d_centre = np.clip(r - to_wall, 0.0, r)
    profile = np.sqrt(np.clip(1.0 - (d_centre / r) ** 2, 0.0, 1.0))  # chord / diameter
    r_max = float(radius.max())
    brightness = tree.depth * (0.35 + 0.65 * radius / r_max)
    signal = np.where(mask, brightness * (0.25 + 0.75 * profile), 0.0)
    return signal.astype(np.float32)


def _tissue_background(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Smooth, inhomogeneous tissue autofluorescence with mean ~1 and a soft vignette."""
    h, w = shape
    size = min(h, w)
    # the field is smooth (correlation ~size/10), so draw it on a grid 8x coarser and upsample:
    # the same look at a fraction of the cost of filtering full-size noise with a wide Gaussian
    coarse = (max(h // 8, 4), max(w // 8, 4))
    field = ndimage.gaussian_filter(rng.normal(0.0, 1.0, coarse), sigma=size / 80.0, mode="reflect")
    field = resize(field, (h, w), order=3, mode="reflect", anti_aliasing=False)
    field = field / max(float(field.std()), 1e-6)
    field = 1.0 + 0.3 * field  # +-30% patchiness
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(0.35, 0.65) * (h - 1), rng.uniform(0.35, 0.65) * (w - 1)
    rr2 = ((yy - cy) / (0.5 * h)) ** 2 + ((xx - cx) / (0.5 * w)) ** 2
    vignette = 1.0 / (1.0 + 0.35 * rr2)  # soft illumination fall-off towards the corners
    background = np.clip(field, 0.2, None) * vignette
    return (background / background.mean()).astype(np.float32)


def clean_nir(tree: VesselTree, seed: int = 0, *, psf_sigma: float = 1.5, background: float = 0.15) -> np.ndarray:
    """The noise-free NIR-II image of ``tree``: float32 (H, W) in [0, 1], blurred by the PSF.

    ``background`` is the mean tissue level relative to the brightest vessel before scaling;
    ``seed`` draws the background field (the tree itself is already fixed).
    """
    if psf_sigma < 0 or background < 0:
        raise ValueError("psf_sigma and background must be >= 0")
    signal = _vessel_signal(tree)
    smax = float(signal.max())
    if smax > 0:
        signal = signal / smax
    halo = ndimage.gaussian_filter(signal, sigma=4.0 * max(psf_sigma, 1.0), mode="reflect")
    tissue = _tissue_background(tree.mask.shape, _stream(seed, _STREAM_BACKGROUND))
    image = background * tissue + (1.0 - background) * (signal + 0.25 * halo)
    if psf_sigma > 0:
        image = ndimage.gaussian_filter(image, sigma=psf_sigma, mode="reflect")
    image = image / max(float(image.max()), 1e-12)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def poisson_gaussian(clean01: np.ndarray, photons: float, read_noise: float, rng: np.random.Generator) -> np.ndarray:
    """Camera noise: ``Poisson(photons * clean01) + Normal(0, read_noise)``, in photon units (float32).

    ``photons`` is the expected photon count where ``clean01`` is 1; ``read_noise`` the standard
    deviation of the Gaussian read-out noise in the same units.
    """
    if photons <= 0 or read_noise < 0:
        raise ValueError("photons must be > 0 and read_noise >= 0")
    expected = photons * np.clip(np.asarray(clean01, np.float64), 0.0, None)
    counts = rng.poisson(expected).astype(np.float64)
    if read_noise > 0:
        counts += rng.normal(0.0, read_noise, counts.shape)
    return counts.astype(np.float32)


def _full_scale(bit_depth: int) -> int:
    if not 1 <= int(bit_depth) <= 16:
        raise ValueError(f"bit_depth must be between 1 and 16 (stored as uint16), got {bit_depth}")
    return (1 << int(bit_depth)) - 1


def _to_counts(photon_image: np.ndarray, gain: float, full: int) -> np.ndarray:
    """Photon units -> clipped, rounded uint16 digital counts with ``gain`` counts per photon."""
    return np.clip(np.rint(photon_image * gain), 0, full).astype(np.uint16)


def _expose(
    clean: np.ndarray,
    rng: np.random.Generator,
    *,
    photons: float,
    read_noise: float,
    bit_depth: int,
    peak: float | None,
) -> np.ndarray:
    full = _full_scale(bit_depth)
    peak_counts = _PEAK_FRACTION * full if peak is None else float(peak)
    if peak_counts <= 0:
        raise ValueError(f"peak must be positive, got {peak}")
    noisy = poisson_gaussian(clean, photons, read_noise, rng)
    return _to_counts(noisy, peak_counts / photons, full)


def render_nir(
    tree: VesselTree,
    seed: int = 0,
    *,
    psf_sigma: float = 1.5,
    background: float = 0.15,
    photons: float = 2000.0,
    read_noise: float = 2.0,
    bit_depth: int = 16,
    peak: float | None = None,
) -> np.ndarray:
    """A noisy NIR-II image of ``tree`` as uint16 (H, W) camera counts.

    ``photons`` expected photons at the brightest pixel, ``read_noise`` in photons; the counts are
    scaled so the brightest *expected* value is ``peak`` (default 60% of ``2**bit_depth - 1``),
    then clipped to the ``bit_depth`` range.
    """
    clean = clean_nir(tree, seed, psf_sigma=psf_sigma, background=background)
    return _expose(
        clean, _stream(seed, _STREAM_NOISE), photons=photons, read_noise=read_noise, bit_depth=bit_depth, peak=peak
    )


def lowlight_pair(
    shape: tuple[int, int] = (256, 256),
    seed: int = 0,
    *,
    low_photons: float = 20.0,
    high_photons: float = 2000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(low-light, high-quality) uint16 images of the same tree and clean image, pixel-aligned.

    Both come from one camera (same gain, counts per photon): the high-quality image peaks at
    60% of the 16-bit range, the low-light one, a short exposure with ``low_photons``, at
    ``low_photons / high_photons`` of that, with strong shot noise and the same read noise.
    The high-quality image equals ``render_nir(vessel_tree(shape, seed), seed, photons=high_photons)``.
    """
    low, high = _lowlight_images(shape, seed, low_photons, high_photons, low=True, high=True)
    assert low is not None and high is not None
    return low, high


def _lowlight_images(
    shape: tuple[int, int], seed: int, low_photons: float, high_photons: float, *, low: bool, high: bool
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The low-light and/or high-quality image of one seed (only those asked for are rendered)."""
    if not 0 < low_photons < high_photons:
        raise ValueError(f"need 0 < low_photons < high_photons, got {low_photons} and {high_photons}")
    clean = clean_nir(vessel_tree(shape, seed), seed)
    full = _full_scale(16)
    gain = _PEAK_FRACTION * full / high_photons  # one camera: same counts per photon for both
    low_img = high_img = None
    if high:
        high_img = _to_counts(poisson_gaussian(clean, high_photons, 2.0, _stream(seed, _STREAM_NOISE)), gain, full)
    if low:
        low_img = _to_counts(poisson_gaussian(clean, low_photons, 2.0, _stream(seed, _STREAM_LOWLIGHT_NOISE)), gain, full)
    return low_img, high_img


def lowres_pair(
    shape: tuple[int, int] = (256, 256), seed: int = 0, *, scale: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lr_small, lr_upscaled, hr) uint16: the super-resolution degradation ``Y = U(D X)``.

    ``hr`` is ``render_nir(vessel_tree(shape, seed), seed)``; ``D`` is bicubic down-sampling by
    ``scale`` with anti-aliasing (``lr_small``, shape ``shape // scale``), ``U`` bicubic
    up-sampling back to ``shape`` (``lr_upscaled``).
    """
    h, w = (int(s) for s in shape)
    hr = render_nir(vessel_tree((h, w), seed), seed)
    lr_small, lr_up = degrade(hr, scale)
    hr = crop_to_multiple(hr, scale)
    return lr_small, lr_up, hr


def unpaired_domains(
    n: int,
    shape: tuple[int, int] = (256, 256),
    seed: int = 0,
    *,
    low_photons: float = 20.0,
    high_photons: float = 2000.0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``n`` low-light and ``n`` high-quality uint16 images from disjoint seeds (truly unpaired).

    The 2n image seeds are drawn without replacement from ``default_rng(seed)`` in
    ``[0, TRAINING_SEED_LIMIT)``; the first n make the low-light domain, the last n the
    high-quality one, so no tree appears in both. Seeds at or above ``TRAINING_SEED_LIMIT`` are
    therefore never used for training images and are safe for held-out evaluation.
    """
    if not 0 <= n <= TRAINING_SEED_LIMIT // 2:
        raise ValueError(f"n must be between 0 and {TRAINING_SEED_LIMIT // 2}, got {n}")
    seeds = np.random.default_rng(seed).choice(TRAINING_SEED_LIMIT, size=2 * n, replace=False)
    low_images: list[np.ndarray] = []
    high_images: list[np.ndarray] = []
    for k, s in enumerate(seeds):
        is_low = k < n
        low, high = _lowlight_images(shape, int(s), low_photons, high_photons, low=is_low, high=not is_low)
        if is_low:
            low_images.append(low)  # type: ignore[arg-type]
        else:
            high_images.append(high)  # type: ignore[arg-type]
    return low_images, high_images
