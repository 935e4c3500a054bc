"""Image metrics: full-reference fidelity (PSNR, SSIM, RMSE; LPIPS in ``metrics.perceptual``),
the explainable no-reference metrics of the denoise paper (SNR, entropy, edge density, contrast,
mean intensity), layer comparison per frame with difference / SSIM maps (``metrics.compare``),
FID / KID of image sets (``metrics.distribution``), video metrics (per-frame PSNR / SSIM / LPIPS
and FVD, ``metrics.video``), and the generated reports (before/after
markdown, and the self-contained HTML comparison).

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
from .compare import difference_map, fidelity_rows, ssim_map
from .distribution import distribution_metrics, fid_from_features, kid_from_features
from .fidelity import psnr, rmse, ssim
from .report import write_html_report, write_report
from .video import fvd, fvd_from_features, i3d_features, video_frame_metrics, video_lpips, video_metrics

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
    "write_html_report",
    "fidelity_rows",
    "difference_map",
    "ssim_map",
    "distribution_metrics",
    "fid_from_features",
    "kid_from_features",
    "video_frame_metrics",
    "video_lpips",
    "i3d_features",
    "fvd",
    "fvd_from_features",
    "video_metrics",
]
