"""The super-resolution degradation model of the TG paper (Eq. 2): Y = U(D X).

``D`` is bicubic down-sampling by ``scale`` (anti-aliased), ``U`` bicubic up-sampling back to
the original size; optionally Poisson noise is added to the low-resolution image (the paper's
noise-robustness test). Works on any 2-D image (synthetic or real) and keeps its dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skimage.transform import resize

from .intensity import cast_like

from napari_vesselgan import InvalidInput


def bicubic_resize(image: np.ndarray, shape: tuple[int, int], *, anti_aliasing: bool) -> np.ndarray:
    """Bicubic (order 3) resampling of a 2-D image to ``shape``, in the image's dtype."""
    out = resize(np.asarray(image, np.float64), shape, order=3, anti_aliasing=anti_aliasing,
                 preserve_range=True, mode="reflect")
    return cast_like(out, np.asarray(image).dtype)


def downsample(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """``D``: anti-aliased bicubic down-sampling by ``scale`` (sizes rounded down)."""
    height, width = np.shape(image)[-2:]
    small = (height // int(scale), width // int(scale))
    if min(small) < 1:
        raise InvalidInput(f"an image of {height}x{width} is too small to down-sample by {scale}")
    return bicubic_resize(image, small, anti_aliasing=True)


def upsample(image: np.ndarray, scale: int = 4, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``U``: bicubic up-sampling by ``scale`` (or to ``shape``)."""
    height, width = np.shape(image)[-2:]
    return bicubic_resize(image, shape or (height * int(scale), width * int(scale)), anti_aliasing=False)


def poisson_noise(image: np.ndarray, photons: float, seed: int = 0) -> np.ndarray:
    """Poisson shot noise with ``photons`` expected counts at the image's maximum, same dtype and scale."""
    if photons <= 0:
        raise InvalidInput(f"photons must be positive, got {photons}")
    values = np.asarray(image, np.float64)
    top = float(values.max()) or 1.0
    counts = np.random.default_rng(seed).poisson(np.clip(values, 0, None) / top * photons)
    return cast_like(counts * (top / photons), np.asarray(image).dtype)


def degrade(image: np.ndarray, scale: int = 4, *, photons: float | None = None,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(low-resolution, re-upscaled) versions of a high-resolution 2-D ``image``.

    The re-upscaled image has the size of ``image`` cropped to a multiple of ``scale`` (crop the
    reference the same way with :func:`crop_to_multiple`). ``photons`` adds Poisson noise to the
    low-resolution image before up-sampling.
    """
    if int(scale) < 1:
        raise InvalidInput(f"scale must be a positive integer, got {scale}")
    image = crop_to_multiple(np.asarray(image), scale)
    small = downsample(image, scale)
    if photons is not None:
        small = poisson_noise(small, photons, seed)
    return small, upsample(small, scale, image.shape[-2:])


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    """The top-left part of ``image`` whose height and width are multiples of ``scale``."""
    height, width = image.shape[-2:]
    return image[..., : height - height % int(scale), : width - width % int(scale)]


#: The lens core and camera of the NIR degradation fitted to all three nir2-mouse frame pairs
#: (benchmarks/results/bench_nir_degradation-cpu.json, "fit"): ``realistic_degrade``'s default optics.
NIR_CAMERA_OPTICS: dict[str, float] = {"core_sigma": 0.3, "photons": 745.8338541153312,
                                       "read_noise": 6.9374984051453845, "bit_depth": 8}


def realistic_degrade(image: np.ndarray, scale: int = 4, *, optics: Any = None, seed: int = 0,
                      jitter: float | None = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(low-resolution, re-upscaled) float64 versions of ``image`` through real optics: a Gaussian
    lens blur, ``D``, then a camera's Poisson-Gaussian noise and quantisation, then ``U``.

    Why: real low-resolution fluorescence is not a clean bicubic reduction; its camera adds shot
    and read noise, which bicubic up-sampling carries into the result. ``optics`` is a fitted
    ``data.nir_optics.NIRDegradation`` (None: ``NIR_CAMERA_OPTICS``); only its PSF core (``core_sigma``,
    in high-resolution pixels) and camera (``photons`` at full scale, ``read_noise``,
    ``bit_depth``) are used: the scattering tail, haze and vignetting belong to the tissue, which
    the high-resolution image already shows. With ``jitter`` each parameter is drawn around the
    fit (``NIRDegradation.jittered``; photons x0.5-2); None uses the fit as is. Full scale is the
    image's maximum; noise acts on the low-resolution pixels.
    """
    from dataclasses import replace

    from scipy import ndimage

    from .nir_optics import NIRDegradation

    if int(scale) < 1:
        raise InvalidInput(f"scale must be a positive integer, got {scale}")
    model = optics if optics is not None else NIRDegradation.from_dict(NIR_CAMERA_OPTICS)
    rng = np.random.default_rng(seed)
    if jitter is not None:
        model = model.jittered(rng, jitter)
    high = crop_to_multiple(np.asarray(image, np.float64), scale)
    top = float(high.max()) or 1.0
    blurred = ndimage.gaussian_filter(np.clip(high / top, 0.0, None), model.core_sigma, mode="reflect")
    small = downsample(blurred, scale)
    camera = replace(model, core_sigma=0.0, tail_weight=0.0, haze_weight=0.0, background=0.0, vignetting=0.0,
                     gain=1.0, offset=0.0)
    counts = camera.apply(np.clip(small, 0.0, None), rng)
    low = counts.astype(np.float64) / ((1 << model.bit_depth) - 1) * top
    return low, upsample(low, scale, high.shape[-2:])
