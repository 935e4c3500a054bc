"""Measured evaluation of `superres`: held-out synthetic pairs and 4x-degraded real images,
against bicubic up-sampling and Richardson-Lucy deconvolution. The model card quotes these.

Real images are degraded two ways: bicubic alone (``real``, the paper's Eq. 2) and through real
optics (``real_optics``: lens blur, 4x down-sampling, camera Poisson-Gaussian noise and 8-bit
quantisation with fitted NIR parameters, ``data.degradation.realistic_degrade``; one fixed noise
draw per image, seeded by its name).

Every candidate works from the same re-upscaled image Y = U(D X) and is compared with X in X's
own units: PSNR and SSIM with the reference's range (metrics' float rule), RMSE divided by that
range (the paper's Table 1 reports RMSE on a [0, 1] scale).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zlib

import numpy as np
from skimage.restoration import richardson_lucy

from napari_vesselgan.data.degradation import NIR_CAMERA_OPTICS, crop_to_multiple, degrade, realistic_degrade
from napari_vesselgan.data.nir import VALIDATION_SEED_BASE, lowres_pair
from napari_vesselgan.evaluation.common import HELD_OUT_SEED_BASE, RealImagesOptions, result_head, summarise
from napari_vesselgan.metrics import psnr, rmse, ssim

if TYPE_CHECKING:
    from napari_vesselgan.methods.base import Method

RL_ITERATIONS = (1, 2, 3, 5, 10, 20)
#: The real optics of the ``real_optics`` set: the NIR degradation fitted to all three nir2-mouse
#: frame pairs, its lens core and camera (``data.degradation.NIR_CAMERA_OPTICS``).
DEFAULT_OPTICS: dict[str, float] = NIR_CAMERA_OPTICS


class Options(RealImagesOptions):
    """`superres`'s evaluation: held-out pairs, and optionally real images degraded 4x."""


def fidelity(candidate: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """PSNR (dB), SSIM and RMSE (as a fraction of the reference's range) of ``candidate``."""
    reference = np.asarray(reference, np.float64)
    candidate = np.asarray(candidate, np.float64)
    span = float(reference.max() - reference.min()) or 1.0
    return {"psnr": psnr(reference, candidate), "ssim": ssim(reference, candidate),
            "rmse": rmse(reference, candidate) / span}


@lru_cache(maxsize=4)
def degradation_psf(scale: int = 4, size: int = 25) -> np.ndarray:
    """The point-spread function of Y = U(D X): the response to a point, averaged over the
    ``scale`` x ``scale`` sub-pixel phases (the operator is not shift-invariant), normalised."""
    side, centre, half = 8 * scale * 2, 8 * scale, size // 2
    psf = np.zeros((size, size))
    for dy in range(scale):
        for dx in range(scale):
            point = np.zeros((side, side))
            point[centre + dy, centre + dx] = 1.0
            _, response = degrade(point, scale)
            psf += response[centre + dy - half : centre + dy + half + 1, centre + dx - half : centre + dx + half + 1]
    psf = np.clip(psf, 0, None)
    return psf / psf.sum()


def richardson_lucy_deconvolution(image: np.ndarray, iterations: int, scale: int = 4) -> np.ndarray:
    """Richardson-Lucy with the degradation's PSF on the image scaled to [0, 1], mapped back."""
    values = np.asarray(image, np.float64)
    low, high = float(values.min()), float(values.max())
    unit = (values - low) / ((high - low) or 1.0)
    restored = richardson_lucy(unit, degradation_psf(scale), num_iter=iterations, clip=False)
    return low + restored * (high - low)


def synthetic_pair(seed: int, size: int, scale: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(re-upscaled Y, reference X) from a held-out synthetic NIR vessel image."""
    _, low_up, high = lowres_pair((size, size), seed, scale=scale)
    return low_up, high


def optics_seed(name: str) -> int:
    """The fixed noise seed of a real image under real optics (from its file name)."""
    return zlib.crc32(Path(name).name.encode())


def real_optics_pair(image: np.ndarray, name: str, optics: Any, scale: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(re-upscaled Y through real optics, reference X): the fit as is, one noise draw seeded by ``name``."""
    low_up = realistic_degrade(image, scale, optics=optics, seed=optics_seed(name), jitter=None)[1]
    return low_up, crop_to_multiple(np.asarray(image), scale).astype(np.float64)


def synthetic_optics_pair(seed: int, size: int, optics: Any, scale: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(re-upscaled Y through real optics, reference X) from a held-out synthetic NIR vessel image."""
    high = synthetic_pair(seed, size, scale)[1]
    return realistic_degrade(high, scale, optics=optics, seed=seed, jitter=None)[1], high


def choose_rl_iterations(pairs: Sequence[tuple[np.ndarray, np.ndarray]], scale: int = 4) -> int:
    """The Richardson-Lucy iteration count with the best mean PSNR on ``pairs`` (validation)."""
    scores = {n: np.mean([fidelity(richardson_lucy_deconvolution(low, n, scale), high)["psnr"]
                          for low, high in pairs]) for n in RL_ITERATIONS}
    return max(scores, key=scores.get)


def evaluate_superres(
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    n_pairs: int = 8,
    size: int = 256,
    real_paths: Sequence[Path] = (),
    scale: int = 4,
    rl_iterations: int | None = None,
    seed_base: int = HELD_OUT_SEED_BASE,
    optics: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Bicubic, Richardson-Lucy and the model on held-out synthetic pairs (seeds ``seed_base`` + i,
    1e6 + i by default) and on 4x-degraded real images (bicubic alone, and with ``optics``
    through real optics: ``real_optics``); RL's iteration count is chosen on separate validation
    pairs (for real optics, validation pairs through the same optics)."""
    from napari_vesselgan.data.nir_optics import NIRDegradation
    from napari_vesselgan.io import read_image

    if rl_iterations is None:
        validation = [synthetic_pair(VALIDATION_SEED_BASE + i, size, scale) for i in range(2)]
        rl_iterations = choose_rl_iterations(validation, scale)
    candidates: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "bicubic": lambda low: low,
        f"Richardson-Lucy ({rl_iterations} it.)": lambda low: richardson_lucy_deconvolution(low, rl_iterations, scale),
        "model": predict,
    }
    result: dict[str, Any] = {"scale": scale, "rl_iterations": rl_iterations}
    sets = {"synthetic": [synthetic_pair(seed_base + i, size, scale) for i in range(n_pairs)]}
    names = {"synthetic": [f"seed {seed_base + i}" for i in range(n_pairs)]}
    if real_paths:
        real = [read_image(path) for path in real_paths]
        sets["real"] = [(degrade(image, scale)[1], crop_to_multiple(image, scale)) for image in real]
        names["real"] = [Path(path).name for path in real_paths]
    set_candidates = {name: candidates for name in sets}
    if real_paths and optics is not None:
        model = NIRDegradation.from_dict(optics)
        validation = [synthetic_optics_pair(VALIDATION_SEED_BASE + i, size, model, scale) for i in range(2)]
        optics_rl = choose_rl_iterations(validation, scale)
        result["real_optics_degradation"] = {**model.to_dict(), "rl_iterations": optics_rl}
        sets["real_optics"] = [real_optics_pair(image, str(path), model, scale) for image, path in zip(real, real_paths)]
        names["real_optics"] = names["real"]
        set_candidates["real_optics"] = {
            "bicubic": lambda low: low,
            f"Richardson-Lucy ({optics_rl} it.)": lambda low: richardson_lucy_deconvolution(low, optics_rl, scale),
            "model": predict}
    for set_name, pairs in sets.items():
        rows = {name: [fidelity(fn(low), high) for low, high in pairs] for name, fn in set_candidates[set_name].items()}
        result[set_name] = {"images": names[set_name], "shape": list(pairs[0][1].shape),
                            "summary": {name: summarise(values, ("psnr", "ssim", "rmse")) for name, values in rows.items()},
                            "per_image": rows}
    return result


def evaluate(method: Method, options: Options) -> dict[str, Any]:
    """The whole result (``weights/superres-evaluation.json``'s layout): synthetic, and ``real``
    when ``options.real`` holds images matching ``options.real_glob``."""
    return {**result_head(method), **evaluate_superres(method.predict, n_pairs=options.pairs, size=options.size,
                                                       real_paths=options.real_paths(), optics=DEFAULT_OPTICS)}


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Mean PSNR / SSIM / RMSE of each candidate on each set."""
    lines = [f"{'set':<10} {'candidate':<26} {'PSNR (dB)':>9} {'SSIM':>7} {'RMSE':>7}"]
    for set_name in ("synthetic", "real", "real_optics"):
        for name, row in result.get(set_name, {}).get("summary", {}).items():
            lines.append(f"{set_name:<10} {name:<26} {row['psnr_mean']:9.2f} {row['ssim_mean']:7.4f} "
                         f"{row['rmse_mean']:7.4f}")
    return lines
