"""A realistic NIR-I/IIa degradation of a sharper (NIR-IIb-like) image, and its fit to real pairs.

Why: in vivo, the shorter NIR-IIa window differs from NIR-IIb mostly by tissue scattering, and
only then by photon and read noise (docs/methods.md card 4). ``denoise`` learns to undo this
model, so its parameters are fitted to real pairs (``fit_degradation``), not guessed.

Forward model, on a sharp image ``x`` scaled to [0, 1] (all widths in pixels):

1. Scattering point-spread function: a sharp Gaussian core (``core_sigma``) plus a broad
   Gaussian tail (``tail_sigma``) holding ``tail_weight`` of the light.
2. Haze that grows with depth and vessel density: ``haze_weight * (G_haze * x) ** haze_power``,
   a very wide blur of the image raised to a power > 1, so dense, bright regions (deep organs,
   vessel beds) gain more haze than sparse ones.
3. Background autofluorescence: a constant ``background`` level.
4. Vignetting: illumination falls off as ``1 / (1 + vignetting * r^2)`` with ``r`` the
   distance from the centre in half-widths.
5. Camera: ``gain`` and ``offset`` (in units of the full scale), Poisson shot noise with
   ``photons`` expected photons at full scale plus Gaussian read noise ``read_noise`` (in
   photons), then quantisation to ``bit_depth`` bits (8, 12 or 16).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
from scipy import ndimage, optimize

from napari_vesselgan import InvalidInput

#: The parameters the fit adjusts (the camera noise is estimated separately), with their bounds.
FIT_BOUNDS: dict[str, tuple[float, float]] = {
    "core_sigma": (0.3, 6.0),
    "tail_sigma": (3.0, 60.0),
    "tail_weight": (0.0, 0.95),
    "haze_sigma": (20.0, 200.0),
    "haze_weight": (0.0, 2.0),
    "haze_power": (1.0, 3.0),
    "background": (-0.2, 0.5),
    "vignetting": (0.0, 1.0),
    "gain": (0.2, 3.0),
}


@dataclass(frozen=True)
class NIRDegradation:
    """Parameters of the NIR-IIb -> NIR-IIa forward model (see the module docstring)."""

    core_sigma: float = 1.0
    tail_sigma: float = 12.0
    tail_weight: float = 0.3
    haze_sigma: float = 60.0
    haze_weight: float = 0.1
    haze_power: float = 1.5
    background: float = 0.01
    vignetting: float = 0.0
    gain: float = 1.0
    offset: float = 0.0
    photons: float = 500.0
    read_noise: float = 2.0
    bit_depth: int = 8

    def __post_init__(self) -> None:
        if self.bit_depth not in (8, 12, 16):
            raise InvalidInput(f"bit_depth must be 8, 12 or 16, got {self.bit_depth}")
        if self.photons <= 0 or self.read_noise < 0:
            raise InvalidInput("photons must be positive and read_noise non-negative")

    # ----- the model -------------------------------------------------------------------------
    def expected(self, sharp01: np.ndarray) -> np.ndarray:
        """The noise-free degraded image (float64, full scale 1) of ``sharp01`` in [0, 1]."""
        x = np.asarray(sharp01, np.float64)
        scattered = ((1.0 - self.tail_weight) * ndimage.gaussian_filter(x, self.core_sigma, mode="reflect")
                     + self.tail_weight * ndimage.gaussian_filter(x, self.tail_sigma, mode="reflect"))
        density = np.clip(ndimage.gaussian_filter(x, self.haze_sigma, mode="reflect"), 0.0, None)
        light = scattered + self.haze_weight * density ** self.haze_power + self.background
        return self.gain * light * vignette(x.shape, self.vignetting) + self.offset

    def apply(self, sharp01: np.ndarray, rng: np.random.Generator | int = 0) -> np.ndarray:
        """The degraded image as camera counts: uint8 (8-bit) or uint16 (12/16-bit)."""
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        expected = np.clip(self.expected(sharp01), 0.0, None) * self.photons
        photons = rng.poisson(expected).astype(np.float64) + rng.normal(0.0, self.read_noise, expected.shape)
        full = (1 << self.bit_depth) - 1
        counts = np.clip(np.rint(photons / self.photons * full), 0, full)
        return counts.astype(np.uint8 if self.bit_depth == 8 else np.uint16)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "NIRDegradation":
        names = {f.name for f in fields(cls)}
        chosen = {k: float(v) for k, v in values.items() if k in names}
        if "bit_depth" in chosen:
            chosen["bit_depth"] = int(chosen["bit_depth"])
        return cls(**chosen)

    def jittered(self, rng: np.random.Generator, spread: float = 0.2) -> "NIRDegradation":
        """A random neighbour (each fitted parameter scaled by up to +-``spread``, kept in bounds):
        training sees a family of degradations around the fit, not one."""
        changes = {}
        for name, (low, high) in FIT_BOUNDS.items():
            value = getattr(self, name) * float(rng.uniform(1.0 - spread, 1.0 + spread))
            changes[name] = float(np.clip(value, low, high))
        changes["photons"] = self.photons * float(rng.uniform(0.5, 2.0))
        return replace(self, **changes)


def vignette(shape: tuple[int, ...], strength: float) -> np.ndarray:
    """``1 / (1 + strength * r^2)``, r the distance from the centre in half-widths (1 at the centre)."""
    height, width = shape[-2:]
    yy = (np.arange(height) - (height - 1) / 2) / (height / 2)
    xx = (np.arange(width) - (width - 1) / 2) / (width / 2)
    return 1.0 / (1.0 + strength * (yy[:, None] ** 2 + xx[None, :] ** 2))


# ----- fitting to real pairs ---------------------------------------------------------------------
def _unit(image: np.ndarray) -> np.ndarray:
    """Camera counts -> [0, 1] by the dtype's full scale (floats: by their maximum)."""
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float64) / np.iinfo(image.dtype).max
    top = float(np.nanmax(image)) or 1.0
    return image.astype(np.float64) / top


def estimate_noise(noisy01: np.ndarray, expected01: np.ndarray, *, bins: int = 24) -> tuple[float, float, float]:
    """Poisson-Gaussian noise of ``noisy01`` around ``expected01``: (photons at full scale, read
    noise in photons, R^2 of the fit).

    The high-frequency residual (image minus its 3x3 mean, which leaves ~8/9 of white noise's
    variance) is binned by expected level; ``variance = level / photons + (read / photons)^2``
    is fitted by least squares to the binned variances.
    """
    residual = noisy01 - ndimage.uniform_filter(noisy01, 3, mode="reflect")
    level = ndimage.uniform_filter(expected01, 3, mode="reflect")
    edges = np.quantile(level, np.linspace(0.02, 0.995, bins + 1))
    xs, ys = [], []
    minimum = min(200, max(20, level.size // (2 * bins)))  # pixels per level bin (fewer in small images)
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (level >= low) & (level < high)
        if inside.sum() > minimum and high > low:
            xs.append(float(level[inside].mean()))
            ys.append(float(residual[inside].var() * 9.0 / 8.0))
    if len(xs) < 2:
        raise InvalidInput(f"the noise cannot be estimated: fewer than two brightness levels with {minimum} pixels "
                           "each (use larger images with a range of brightness)")
    xs_arr, ys_arr = np.asarray(xs), np.asarray(ys)
    slope, intercept = np.polyfit(xs_arr, ys_arr, 1)
    slope, intercept = max(float(slope), 1e-6), max(float(intercept), 0.0)
    predicted = slope * xs_arr + intercept
    r2 = 1.0 - float(((ys_arr - predicted) ** 2).sum() / max(((ys_arr - ys_arr.mean()) ** 2).sum(), 1e-12))
    photons = 1.0 / slope
    return photons, float(np.sqrt(intercept) * photons), r2


def fit_degradation(pairs: Sequence[tuple[np.ndarray, np.ndarray]], *, bit_depth: int = 8,
                    downsample: int = 2, max_evaluations: int = 400) -> tuple[NIRDegradation, dict[str, Any]]:
    """The degradation that best maps each sharp image to its degraded partner, and the fit's report.

    ``pairs`` are (degraded, sharp) pixel-aligned images (e.g. real NIR-IIa and its NIR-IIb-like
    partner). Scattering, haze, background, vignetting and gain are fitted jointly to all pairs
    by bounded least squares (``scipy.optimize.least_squares``) on images averaged ``downsample``
    x ``downsample`` (widths are converted back to full-resolution pixels); the camera noise is
    then estimated from the full-resolution residuals (:func:`estimate_noise`).
    """
    if not pairs:
        raise InvalidInput("fitting the degradation needs at least one (degraded, sharp) pair")
    for degraded, sharp in pairs:
        if np.shape(degraded) != np.shape(sharp):
            raise InvalidInput(f"pair shapes differ: {np.shape(degraded)} vs {np.shape(sharp)}")
    step = int(downsample)

    def shrink(image: np.ndarray) -> np.ndarray:
        h, w = (s - s % step for s in image.shape)
        return image[:h, :w].reshape(h // step, step, w // step, step).mean(axis=(1, 3))

    small = [(shrink(_unit(a)), shrink(_unit(b))) for a, b in pairs]
    names = list(FIT_BOUNDS)
    scaled_names = {"core_sigma", "tail_sigma", "haze_sigma"}  # widths in pixels: scale to the shrunk grid
    start = NIRDegradation()
    x0 = np.array([getattr(start, n) / (step if n in scaled_names else 1) for n in names])
    low = np.array([FIT_BOUNDS[n][0] / (step if n in scaled_names else 1) for n in names])
    high = np.array([FIT_BOUNDS[n][1] / (step if n in scaled_names else 1) for n in names])
    x0 = np.clip(x0, low + 1e-6, high - 1e-6)

    def model(values: np.ndarray) -> NIRDegradation:
        return NIRDegradation(**dict(zip(names, map(float, values))))

    def residuals(values: np.ndarray) -> np.ndarray:
        m = model(values)
        return np.concatenate([(m.expected(b) - a).ravel() for a, b in small])

    solution = optimize.least_squares(residuals, x0, bounds=(low, high), x_scale="jac", max_nfev=max_evaluations)
    fitted_values = {n: float(v) * (step if n in scaled_names else 1) for n, v in zip(names, solution.x)}
    fitted = NIRDegradation(**fitted_values, bit_depth=bit_depth)

    per_pair, noise_rows = [], []
    for degraded, sharp in pairs:
        a, b = _unit(degraded), _unit(sharp)
        prediction = fitted.expected(b)
        identity_rmse = float(np.sqrt(np.mean((b - a) ** 2)))
        rmse = float(np.sqrt(np.mean((prediction - a) ** 2)))
        smooth_a = ndimage.gaussian_filter(a, 1.0)
        structure_rmse = float(np.sqrt(np.mean((prediction - smooth_a) ** 2)))
        photons, read, r2 = estimate_noise(a, np.clip(prediction, 0.0, None))
        noise_rows.append((photons, read))
        per_pair.append({"rmse_sharp_vs_degraded": identity_rmse, "rmse_model_vs_degraded": rmse,
                         "rmse_model_vs_smoothed_degraded": structure_rmse,
                         "residual_fraction_of_identity": rmse / identity_rmse if identity_rmse else None,
                         "noise_photons": photons, "noise_read": read, "noise_fit_r2": r2})
    photons = float(np.median([p for p, _ in noise_rows]))
    read = float(np.median([r for _, r in noise_rows]))
    fitted = replace(fitted, photons=photons, read_noise=read)
    report = {"parameters": fitted.to_dict(), "optimizer": {"cost": float(solution.cost), "evaluations":
              int(solution.nfev), "status": int(solution.status), "message": str(solution.message),
              "downsample": step}, "pairs": per_pair}
    return fitted, report


# ----- training data from the fitted model ------------------------------------------------------
def degraded_copies(sharp_images: Sequence[np.ndarray], degradation: NIRDegradation, *, copies: int,
                    seed: int, spread: float = 0.2) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(degraded, sharp) registered pairs: ``copies`` random degradations (jittered around
    ``degradation``, fresh noise each) of every sharp image, for supervision that needs no real pair."""
    rng = np.random.default_rng(seed)
    degraded, sharp = [], []
    for image in sharp_images:
        unit = _unit(image)
        for _ in range(copies):
            degraded.append(degradation.jittered(rng, spread).apply(unit, rng))
            sharp.append(np.asarray(image))
    return degraded, sharp


def realistic_domains(n: int, shape: tuple[int, int], degradation: NIRDegradation, *,
                      seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``n`` synthetic NIR-IIa-like and ``n`` NIR-IIb-like images from disjoint vessel trees.

    The sharp images are the synthetic renderer's vessel trees with the camera noise of
    ``degradation`` at a high photon count, quantised to its bit depth; the degraded ones are
    other trees through the full fitted degradation.
    """
    from .nir import TRAINING_SEED_LIMIT, clean_nir
    from .vessels import vessel_tree

    seeds = np.random.default_rng(seed).choice(TRAINING_SEED_LIMIT, size=2 * n, replace=False)
    sharp_camera = replace(degradation, photons=degradation.photons * 4.0)
    degraded, sharp = [], []
    for index, tree_seed in enumerate(seeds):
        clean = clean_nir(vessel_tree(shape, int(tree_seed)), int(tree_seed))
        rng = np.random.default_rng([int(tree_seed), 7])
        if index < n:
            degraded.append(degradation.apply(clean, rng))
        else:
            sharp.append(_camera_only(sharp_camera).apply(clean, rng))
    return degraded, sharp


def _camera_only(model: NIRDegradation) -> NIRDegradation:
    """The same camera with no scattering, haze, background or vignetting (an ideal sharp image)."""
    return replace(model, core_sigma=0.0, tail_weight=0.0, haze_weight=0.0, background=0.0, vignetting=0.0,
                   gain=1.0, offset=0.0)
