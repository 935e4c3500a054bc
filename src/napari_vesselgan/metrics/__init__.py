"""Image metrics: full-reference fidelity (PSNR, SSIM, RMSE), the explainable no-reference
metrics of the denoise paper (SNR, entropy, edge density, contrast, mean intensity) and the
automatically generated before/after report.

Everything here is numpy in, Python float out; inputs are never modified; nothing imports
napari or Qt.
"""

from .explainable import (
    EXPLAINABLE_METRICS,
    METRIC_LABELS,
    compare_metrics,
    contrast,
    edge_density,
    entropy,
    explainable_metrics,
    mean_intensity,
    snr,
)
from .fidelity import psnr, rmse, ssim
from .report import write_report

__all__ = [
    "psnr",
    "ssim",
    "rmse",
    "snr",
    "entropy",
    "edge_density",
    "contrast",
    "mean_intensity",
    "explainable_metrics",
    "compare_metrics",
    "EXPLAINABLE_METRICS",
    "METRIC_LABELS",
    "write_report",
]
