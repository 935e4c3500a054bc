"""Measured evaluation of `mask2nir` on held-out synthetic masks. The model card quotes these.

The synthetic data are secretly paired: each NIR-II image is rendered from a known tree whose
mask we have. For held-out trees (seeds at or above ``HELD_OUT_SEED_BASE``, never used in
training) we translate the mask and compare the result with the rendered image (scaled to
[0, 1] by its own range), by PSNR and SSIM on a [0, 1] scale, as produced ("raw") and after the
least-squares affine fit to the reference ("fitted"; brightness and contrast do not count).
The rendered image also carries camera noise and a random tissue background that no mask
determines, so the noise-free rendering (``clean_nir``) is a second reference.
Baselines: the mask itself, and the mask blurred by the renderer's point-spread function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import ndimage

from napari_vesselgan.data import clean_nir, render_nir, vessel_tree
from napari_vesselgan.evaluation import affine_fit, to_unit_range
from napari_vesselgan.metrics import psnr, ssim

HELD_OUT_SEED_BASE = 1_000_000  # synthetic training draws its tree seeds below this


def held_out_case(index: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask uint8, rendered NIR-II in [0, 1], noise-free rendering in [0, 1]) of held-out tree ``index``."""
    seed = HELD_OUT_SEED_BASE + 4000 + index
    tree = vessel_tree((size, size), seed)
    return tree.mask.astype(np.uint8), to_unit_range(render_nir(tree, seed)), to_unit_range(clean_nir(tree, seed))


def _scores(candidate: np.ndarray, rendered: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    out = {}
    for ref_name, reference in (("rendered", rendered), ("clean", clean)):
        for fit_name, image in (("raw", np.clip(candidate, 0, 1)), ("fitted", affine_fit(candidate, reference))):
            out[f"psnr_{fit_name}_{ref_name}"] = psnr(reference, image, data_range=1.0)
            out[f"ssim_{fit_name}_{ref_name}"] = ssim(reference, image, data_range=1.0)
    return out


def evaluate_mask2nir(candidates: dict[str, Callable[[np.ndarray], np.ndarray]], *, n_pairs: int = 16,
                      size: int = 256) -> dict[str, Any]:
    """Per-case and summary scores of each candidate (name -> mask-to-image function) and the baselines."""
    everyone = {
        "mask (baseline)": lambda mask: mask.astype(np.float64),
        "blurred mask (baseline)": lambda mask: ndimage.gaussian_filter(mask.astype(np.float64), 1.5),
        **candidates,
    }
    cases = []
    for index in range(n_pairs):
        mask, rendered, clean = held_out_case(index, size)
        cases.append({name: _scores(np.asarray(fn(mask), np.float64), rendered, clean) for name, fn in everyone.items()})
    summary = {}
    for name in everyone:
        keys = cases[0][name].keys()
        summary[name] = {f"{key}_{stat}": float(fn([case[name][key] for case in cases]))
                         for key in keys for stat, fn in (("mean", np.mean), ("std", np.std))}
    return {"n_pairs": n_pairs, "size": size, "seed_base": HELD_OUT_SEED_BASE + 4000, "cases": cases,
            "summary": summary}
