"""Video metrics (Fundus2Video's evaluation): per-frame PSNR / SSIM, per-frame LPIPS, and FVD.

* **PSNR / SSIM** of a generated video against its reference: :func:`~napari_vesselgan.metrics.psnr`
  and :func:`~napari_vesselgan.metrics.ssim` frame by frame, then the mean over frames. The data
  range is taken once from the whole *reference video* (DESIGN's rule: the dtype's range for
  integers, ``max - min`` of the reference for floats), not per frame, so a dark early FFA frame
  is measured on the same scale as a bright late one.
* **LPIPS**: :func:`~napari_vesselgan.metrics.perceptual.lpips` frame by frame with the video's data
  range, averaged (for float videos the offset is each reference frame's minimum, as in ``lpips``).
* **FVD** (Unterthiner et al. 2019): the Fréchet distance (:func:`fid_from_features`) between
  Gaussians fitted to the I3D embeddings of two sets of videos — by default the time-averaged
  400-d Kinetics logits, as the original FVD (see :mod:`napari_vesselgan.nn.i3d` for the network,
  its weights and why). Each video is mapped to [0, 1] as one piece (integers by their dtype's
  range, floats in [0, 1] as they are, other floats by the video's own min..max), its frames
  resized to 224 x 224 (bilinear), scaled to [-1, 1], grey repeated to 3 channels. I3D needs at
  least 9 frames: shorter videos raise ``ValueError`` unless ``pad_short=True``, which repeats
  their last frame up to 9 (a still ending: state it when reporting such FVDs). 12-frame videos
  (the paper's) are used whole.

FVD needs at least 2 videos per set, and like FID it is biased upward at small N: with N videos
the covariance of 400-d features has rank at most N - 1, so the ~50 test videos of the paper give
an estimate dominated by sampling noise. Compare FVDs only between sets of equal size, with the
same weights and feature choice, and never with FVDs from a different I3D (TF-Hub's differs).

Sets of videos are lists of ``(T, Y, X)`` / ``(T, Y, X, 3)`` arrays, an ``(N, T, Y, X)`` grey or
``(N, T, Y, X, 3)`` colour array, a folder of video files (TIFF stacks, MP4, AVI; one video per
file) or one file holding such an array. Inputs are never modified.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .distribution import fid_from_features, to_unit_image
from .fidelity import _checked, _resolve_range, psnr, ssim

from napari_vesselgan import InvalidInput

__all__ = [
    "fvd",
    "fvd_from_features",
    "i3d_features",
    "video_frame_metrics",
    "video_lpips",
    "video_metrics",
    "video_set",
]


# ------------------------------------------------------------------------------ inputs
def _is_colour_video(arr: np.ndarray) -> bool:
    return arr.ndim == 4 and arr.shape[-1] in (3, 4)


def _checked_video(video, name: str = "video") -> np.ndarray:
    """``video`` as an array after checking it is a non-empty, finite (T, Y, X[, 3|4]) video."""
    arr = _checked(video, name)
    if arr.ndim != 3 and not _is_colour_video(arr):
        raise InvalidInput(f"{name} must be a video (T, Y, X) or (T, Y, X, 3), got shape {arr.shape}")
    return arr


def video_set(source) -> list[np.ndarray]:
    """The videos of a set: a folder (each TIFF / MP4 / AVI file in it, sorted by name, is one
    video), one file (a ``(T, Y, X[, 3])`` video, or an ``(N, T, Y, X)`` / ``(N, T, Y, X, 3)`` stack
    of videos), an array of those shapes, or a sequence of videos. A 4-D array whose last axis
    is 3 or 4 is one colour video; other 4-D arrays are (N, T, Y, X) grey videos."""
    if isinstance(source, (str, os.PathLike)):
        from ..io import read_image
        from ..io.readers import TIFF_SUFFIXES, VIDEO_SUFFIXES

        path = Path(source)
        if path.is_file():
            return video_set(read_image(path))
        if not path.is_dir():
            raise InvalidInput(f"{path}: no such folder or video file")
        suffixes = TIFF_SUFFIXES + VIDEO_SUFFIXES
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
        if not files:
            raise InvalidInput(f"{path}: no videos ({', '.join(suffixes)}) in this folder")
        return [_checked_video(read_image(file), str(file)) for file in files]
    if isinstance(source, np.ndarray) or hasattr(source, "__array__") and not isinstance(source, (list, tuple)):
        arr = np.asarray(source)
        if arr.ndim == 3 or _is_colour_video(arr):
            return [arr]
        if arr.ndim == 4 or arr.ndim == 5 and arr.shape[-1] in (3, 4):
            return list(arr)
        raise InvalidInput(f"expected a video (T, Y, X[, 3]) or a stack of videos (N, T, Y, X[, 3]), got shape "
                         f"{arr.shape}")
    return [np.asarray(video) for video in source]


def _pair(reference, video) -> tuple[np.ndarray, np.ndarray]:
    ref, vid = _checked_video(reference, "reference video"), _checked_video(video, "video")
    if ref.shape[0] != vid.shape[0]:
        raise InvalidInput(f"the videos have different lengths: reference {ref.shape[0]} frames, "
                         f"video {vid.shape[0]} frames")
    if ref.shape != vid.shape:
        raise InvalidInput(f"video shapes differ: reference {ref.shape}, video {vid.shape}")
    return ref, vid


# ------------------------------------------------------------------ full-reference metrics
def video_frame_metrics(reference, video, data_range: float | None = None) -> dict:
    """Per-frame PSNR and SSIM of ``video`` against ``reference`` (equal shapes, (T, Y, X) or
    (T, Y, X, 3)), with ``data_range`` from the whole reference video when None.

    Returns ``{"psnr", "ssim", "psnr_per_frame", "ssim_per_frame", "frames", "data_range"}``;
    a frame equal to its reference has PSNR ``inf`` (and so then has the mean).
    """
    ref, vid = _pair(reference, video)
    dr = _resolve_range(ref, data_range)
    psnrs = [psnr(a, b, data_range=dr) for a, b in zip(ref, vid)]
    ssims = [ssim(a, b, data_range=dr) for a, b in zip(ref, vid)]
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "psnr_per_frame": psnrs,
            "ssim_per_frame": ssims, "frames": len(psnrs), "data_range": dr}


def _lpips_per_frame(reference, video, network, data_range: float | None = None) -> list[float]:
    from .perceptual import lpips

    ref, vid = _pair(reference, video)
    dr = _resolve_range(ref, data_range)
    return [lpips(a, b, network, data_range=dr) for a, b in zip(ref, vid)]


def video_lpips(reference, video, network, data_range: float | None = None) -> float:
    """Mean over frames of the LPIPS distance (``network`` from :func:`~napari_vesselgan.nn.lpips.lpips_network`)."""
    return float(np.mean(_lpips_per_frame(reference, video, network, data_range)))


# ------------------------------------------------------------------------------------ FVD
def _video_tensor(video: np.ndarray, pad_short: bool, index: int):
    """(3, T, 224, 224) float32 in [-1, 1] for I3D (see the module docstring)."""
    import torch
    import torch.nn.functional as F

    from ..nn.i3d import INPUT_SIZE, MIN_FRAMES

    arr = _checked_video(video, f"video {index}")
    frames = arr.shape[0]
    if frames < MIN_FRAMES and not pad_short:
        raise InvalidInput(f"video {index} has {frames} frames; I3D needs at least {MIN_FRAMES} "
                         f"(pad_short=True repeats the last frame up to {MIN_FRAMES})")
    flat = arr.reshape(frames * arr.shape[1], *arr.shape[2:])  # one 2-D image: one scale for the video
    unit = torch.from_numpy(to_unit_image(flat))  # (C, T*Y, X)
    unit = unit.reshape(unit.shape[0], frames, arr.shape[1], arr.shape[2]).transpose(0, 1)  # (T, C, Y, X)
    if frames < MIN_FRAMES:
        unit = torch.cat([unit, unit[-1:].expand(MIN_FRAMES - frames, -1, -1, -1)])
    resized = F.interpolate(unit, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return (2 * resized - 1).expand(-1, 3, -1, -1).transpose(0, 1).contiguous()


def i3d_features(videos, network=None, *, weights=None, features: str = "logits", device: str = "auto",
                 batch_size: int = 4, pad_short: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(N, D) float64 I3D embeddings of ``videos`` (a set, see :func:`video_set`): D = 400 for
    ``features="logits"`` (FVD's), 1024 for ``"pool"``.

    ``network`` defaults to ``i3d_network(weights)``; any other module is called as
    ``network(x)`` on (B, 3, T, 224, 224). Videos of equal length are batched together.
    ``progress(done, total)`` after each batch (it may raise to cancel).
    """
    import torch

    from ..engine.device import resolve_device
    from ..nn.i3d import InceptionI3d, i3d_network

    items = video_set(videos) if not isinstance(videos, list) else videos
    if not items:
        raise InvalidInput("a video set is empty")
    if batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, got {batch_size}")
    dev = resolve_device(device)
    net = (network if network is not None else i3d_network(weights)).to(dev).eval()
    out, start = [], 0
    with torch.inference_mode():
        while start < len(items):
            batch = [_video_tensor(items[start], pad_short, start)]
            while len(batch) < batch_size and start + len(batch) < len(items):
                following = _video_tensor(items[start + len(batch)], pad_short, start + len(batch))
                if following.shape != batch[0].shape:
                    break
                batch.append(following)
            x = torch.stack(batch).to(dev)
            y = net(x, features) if isinstance(net, InceptionI3d) else net(x)
            out.append(y.double().cpu().numpy().reshape(len(batch), -1))
            start += len(batch)
            if progress is not None:
                progress(start, len(items))
    return np.concatenate(out)


def fvd_from_features(features_a, features_b) -> float:
    """FVD of two embedding sets (N_a, D) and (N_b, D): their Fréchet distance, computed as FID's."""
    return fid_from_features(features_a, features_b)


def _weights_label(weights, network) -> str:
    if network is not None:
        return "a network given by the caller"
    if weights is None:
        return "I3D Kinetics-400 (pytorch-i3d rgb_imagenet.pt, hub cache)"
    return str(weights)


def fvd(videos_a, videos_b, *, network=None, weights=None, features: str = "logits", device: str = "auto",
        batch_size: int = 4, pad_short: bool = False,
        progress: Callable[[int, int], None] | None = None) -> dict:
    """FVD between two sets of videos (see :func:`video_set`; at least 2 videos each).

    Returns ``{"fvd", "n_a", "n_b", "features", "feature_dim", "weights", "pad_short"}``.
    ``weights``: None (hub cache / download), a file, or ``"random"`` (meaningless numbers, for
    tests); missing weights raise ``PretrainedWeightsMissing`` naming the file to fetch.
    """
    from ..nn.i3d import i3d_network

    set_a = video_set(videos_a) if not isinstance(videos_a, list) else videos_a
    set_b = video_set(videos_b) if not isinstance(videos_b, list) else videos_b
    for name, items in (("set A", set_a), ("set B", set_b)):
        if len(items) < 2:
            raise InvalidInput(f"{name} has {len(items)} video(s); FVD needs at least 2 per set")
    net = network if network is not None else i3d_network(weights)
    total = len(set_a) + len(set_b)

    def report(offset: int):
        return None if progress is None else (lambda done, _total: progress(offset + done, total))

    options = dict(features=features, device=device, batch_size=batch_size, pad_short=pad_short)
    fa = i3d_features(set_a, net, progress=report(0), **options)
    fb = i3d_features(set_b, net, progress=report(len(set_a)), **options)
    return {"fvd": fvd_from_features(fa, fb), "n_a": len(set_a), "n_b": len(set_b), "features": features,
            "feature_dim": int(fa.shape[1]), "weights": _weights_label(weights, network), "pad_short": pad_short}


# ------------------------------------------------------------------------------ all of it
def video_metrics(reference_videos, generated_videos, *, lpips_network=None, i3d_network=None,
                  data_range: float | None = None, device: str = "auto", pad_short: bool = False) -> dict:
    """PSNR / SSIM (always), LPIPS (with ``lpips_network``) and FVD (with ``i3d_network`` and at
    least 2 videos) of generated videos against their references, paired in order.

    Returns ``{"videos", "psnr", "ssim", "lpips", "fvd", "skipped", "per_video"}``: the means over
    videos of the per-video means, ``None`` for a metric not computed, and ``skipped`` saying why.
    """
    refs, gens = video_set(reference_videos), video_set(generated_videos)
    if len(refs) != len(gens):
        raise InvalidInput(f"{len(refs)} reference videos but {len(gens)} generated videos; they pair in order")
    if not refs:
        raise InvalidInput("no videos to compare")
    per_video, skipped = [], {}
    for index, (ref, gen) in enumerate(zip(refs, gens)):
        try:
            row = {"index": index, **video_frame_metrics(ref, gen, data_range)}
        except InvalidInput as error:  # a user problem of this pair; anything else is a bug
            raise InvalidInput(f"video pair {index}: {error}") from None
        if lpips_network is not None:
            row["lpips_per_frame"] = _lpips_per_frame(ref, gen, lpips_network, data_range)
            row["lpips"] = float(np.mean(row["lpips_per_frame"]))
        per_video.append(row)
    result = {"videos": len(refs), "psnr": float(np.mean([r["psnr"] for r in per_video])),
              "ssim": float(np.mean([r["ssim"] for r in per_video])), "lpips": None, "fvd": None}
    if lpips_network is not None:
        result["lpips"] = float(np.mean([r["lpips"] for r in per_video]))
    else:
        skipped["lpips"] = "no LPIPS network given"
    if i3d_network is None:
        skipped["fvd"] = "no I3D network given"
    elif len(refs) < 2:
        skipped["fvd"] = f"FVD needs at least 2 videos per set, got {len(refs)}"
    else:
        result["fvd"] = fvd(refs, gens, network=i3d_network, device=device, pad_short=pad_short)["fvd"]
    result["skipped"] = skipped
    result["per_video"] = per_video
    return result
