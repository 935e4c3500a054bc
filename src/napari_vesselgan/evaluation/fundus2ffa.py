"""Measured evaluation of `fundus2ffa` on held-out synthetic fundus / FFA pairs. The model card quotes these.

Pairs from seeds ``FUNDUS2FFA_HELD_OUT_SEED_BASE + i`` (no training run draws them), the
leakage kinds cycling; the generated FFA image is compared with the rendered one by PSNR and
SSIM (data range 1) and by the MSE between their saliency maps (the paper's L_sal term).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from napari_vesselgan.evaluation.common import (
    FUNDUS2FFA_HELD_OUT_SEED_BASE,
    EvaluationOptions,
    mean_std_line,
    result_head,
    statistics,
)

if TYPE_CHECKING:
    from napari_vesselgan.methods.base import Method


class Options(EvaluationOptions):
    """`fundus2ffa`'s evaluation: held-out synthetic pairs only."""


def heldout_pairs(n: int, size: int = 256, seed_base: int = FUNDUS2FFA_HELD_OUT_SEED_BASE) -> list[Any]:
    """``n`` synthetic pairs no training run sees (seeds from ``seed_base``, by default
    :data:`FUNDUS2FFA_HELD_OUT_SEED_BASE`), leakage kinds cycling."""
    from napari_vesselgan.data.fundus import LEAKAGE_KINDS, fundus_pair

    return [fundus_pair((size, size), seed_base + i, leakage=LEAKAGE_KINDS[i % len(LEAKAGE_KINDS)])
            for i in range(n)]


def evaluate_heldout(method: Method, n_pairs: int = 8, size: int = 256,
                     seed_base: int = FUNDUS2FFA_HELD_OUT_SEED_BASE) -> dict[str, Any]:
    """PSNR / SSIM (data range 1) and saliency-map MSE of ``method`` on held-out synthetic pairs."""
    from napari_vesselgan.analysis import ffa_saliency
    from napari_vesselgan.metrics import psnr, ssim

    rows = []
    for pair in heldout_pairs(n_pairs, size, seed_base):
        fake = method.predict(pair.fundus)
        rows.append({
            "leakage": pair.anatomy.leakage_kind,
            "psnr": psnr(pair.ffa, fake, data_range=1.0),
            "ssim": ssim(pair.ffa, fake, data_range=1.0),
            "saliency_mse": float(np.mean((ffa_saliency(fake) - ffa_saliency(pair.ffa)) ** 2)),
        })
    summary = statistics(rows, ("psnr", "ssim", "saliency_mse"))
    return {"pairs": n_pairs, "size": size, "seeds_from": seed_base, "rows": rows,
            "summary": summary}


def evaluate(method: Method, options: Options) -> dict[str, Any]:
    """The whole result (``weights/fundus2ffa-evaluation.json``'s layout)."""
    return {**result_head(method, provenance=True),
            "heldout": evaluate_heldout(method, n_pairs=options.pairs, size=options.size)}


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Mean ± std of PSNR, SSIM and saliency MSE, on one line."""
    return [mean_std_line(result["heldout"]["summary"])]
