"""Measured evaluation of `fundus2video` on held-out synthetic fundus photos and FFA videos.
The model card quotes these.

Videos from seeds ``FUNDUS2VIDEO_HELD_OUT_SEED_BASE + i`` (no training run draws them), the
leakage kinds cycling; each generated video is compared with the rendered one frame by frame
(PSNR, SSIM, data range 1), and by PSNR inside the knowledge mask (where the dye changes);
optionally the FVD of the generated set against the rendered one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from napari_vesselgan.analysis.knowledge_mask import knowledge_mask
from napari_vesselgan.evaluation.common import (
    FUNDUS2VIDEO_HELD_OUT_SEED_BASE,
    EvaluationOptions,
    mean_std_line,
    result_head,
    statistics,
)

if TYPE_CHECKING:
    from napari_vesselgan.methods.base import Method


class Options(EvaluationOptions):
    """`fundus2video`'s evaluation: held-out synthetic videos (``pairs`` of them), optionally FVD."""

    frames: int = Field(12, ge=3, description="frames per held-out video")
    fvd_weights: str | None = Field(
        None, description="also FVD, with this I3D weights file (rgb_imagenet.pt; 'random' for a pipeline test)")


def evaluate_heldout(method: Method, n_videos: int = 8, size: int = 192,
                     frames: int = 12, fvd_weights: str | None = None,
                     seed_base: int = FUNDUS2VIDEO_HELD_OUT_SEED_BASE) -> dict[str, Any]:
    """Per-frame PSNR / SSIM (data range 1) over held-out synthetic videos, and PSNR inside the knowledge mask.

    With ``fvd_weights`` (an I3D weights file, or ``"random"`` for a pipeline test) also the FVD
    of the generated set against the real one (``metrics.video.fvd``; needs 2+ videos of 9+ frames).
    """
    from napari_vesselgan.data.fundus import LEAKAGE_KINDS, fundus_video
    from napari_vesselgan.metrics.video import video_frame_metrics

    rows, real_videos, fake_videos = [], [], []
    for index in range(n_videos):
        sample = fundus_video((size, size), seed_base + index, frames=frames,
                              leakage=LEAKAGE_KINDS[index % len(LEAKAGE_KINDS)])
        fake = method.predict(sample.fundus, frames=frames)
        if fvd_weights is not None:
            real_videos.append(sample.video)
            fake_videos.append(fake)
        mask = knowledge_mask(sample.video[0], sample.video[-1])
        masked_mse = float(np.mean([np.mean((f[mask] - r[mask]) ** 2) for f, r in zip(fake, sample.video)])) \
            if mask.any() else float("nan")
        frame_metrics = video_frame_metrics(sample.video, fake, data_range=1.0)
        rows.append({
            "seed": seed_base + index, "leakage": sample.anatomy.leakage_kind,
            "psnr": frame_metrics["psnr"], "ssim": frame_metrics["ssim"],
            "psnr_knowledge_mask": float(10 * np.log10(1.0 / masked_mse)) if masked_mse > 0 else float("inf"),
            "psnr_per_frame": frame_metrics["psnr_per_frame"],
        })
    summary: dict[str, Any] = statistics(rows, ("psnr", "ssim", "psnr_knowledge_mask"), ignore_nan=True)
    summary["psnr_per_frame"] = [float(v) for v in np.mean([r["psnr_per_frame"] for r in rows], axis=0)]
    if fvd_weights is not None:
        from napari_vesselgan.metrics.video import fvd

        summary["fvd"] = fvd(real_videos, fake_videos, weights=fvd_weights, device=str(method.device))
    return {"videos": n_videos, "size": size, "frames": frames, "seeds_from": seed_base,
            "rows": rows, "summary": summary}


def evaluate(method: Method, options: Options) -> dict[str, Any]:
    """The whole result (``weights/fundus2video-evaluation.json``'s layout)."""
    return {**result_head(method, provenance=True),
            "heldout": evaluate_heldout(method, n_videos=options.pairs, size=options.size, frames=options.frames,
                                        fvd_weights=options.fvd_weights)}


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Mean ± std of PSNR, SSIM and knowledge-mask PSNR on one line, and the FVD when measured."""
    summary = result["heldout"]["summary"]
    lines = [mean_std_line(summary)]
    if "fvd" in summary:
        lines.append(f"FVD ({summary['fvd']['features']}, {summary['fvd']['n_a']} videos per set): "
                     f"{summary['fvd']['fvd']:.2f}")
    return lines
