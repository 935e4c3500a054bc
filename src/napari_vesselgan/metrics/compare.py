"""Compare layers: full-reference metrics of test images against one reference, per frame.

The library half of the "Compare layers" dock and of ``vesselgan evaluate REFERENCE TEST...``:

* :func:`as_frames` views an image as a stack of frames: a 2-D grey image or a ``(Y, X, 3)``
  colour image is one frame; a time series ``(T, Y, X)`` or ``(T, Y, X, 3)`` has ``T``.
  Whether a trailing axis of 3 or 4 is colour is the caller's word (napari's ``layer.rgb``);
  ``rgb=None`` guesses as the readers lay images out (a 3-D or 4-D array ending in 3 or 4 is
  colour).
* :func:`incompatibility` says in words why two images cannot be compared (or None).
* :func:`fidelity_rows` gives one row per test image and frame: PSNR, SSIM, RMSE computed with
  :mod:`.fidelity` (the project's definitions, nothing re-implemented), plus the mean row of a
  series; :func:`write_csv` writes such rows.
* :func:`difference_map` and :func:`ssim_map` give the per-pixel maps behind RMSE and SSIM.

Intensity scale (:func:`common_scale`): two images of one dtype are compared in their own
units. Two images of different dtypes (the plugin's translations are float [0, 1], its samples
and most files 8- or 16-bit) are first put on one [0, 1] scale, each by the rule of its dtype
(:func:`unit_scale`): uint8 divided by 255; bool as 0/1; other integers (16-bit cameras rarely
use more than a few hundred of their levels) by the image's own [min, max]; floats as they are
when they lie in [0, 1], else by their own [min, max]. A series is mapped with one
scale for all its frames. :func:`dtype_note` says in words which scale was used.

Data range: one value for the whole comparison: 1 on the common [0, 1] scale, else from the
whole reference (the dtype's range for integers, max - min of the whole reference stack for
floats), so that the frames of a series are scored on one scale. Everything is float64 on
copies; inputs are never modified.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from .fidelity import _checked, _data_range, _resolve_range, psnr, rmse, ssim

from napari_vesselgan import InvalidInput

__all__ = [
    "FIDELITY_METRICS",
    "as_frames",
    "incompatibility",
    "IntensityScale",
    "unit_scale",
    "common_scale",
    "dtype_note",
    "fidelity_rows",
    "summary_rows",
    "difference_map",
    "ssim_map",
    "write_csv",
]

FIDELITY_METRICS: tuple[str, ...] = ("psnr", "ssim", "rmse")

#: The word used in the "frame" column for the mean over a series' frames.
MEAN_FRAME = "mean"


def _is_colour(arr: np.ndarray, rgb: bool | None) -> bool:
    if rgb is None:  # a (Y, X, 3) image or a (T, Y, X, 3) series, as the readers return them
        return arr.ndim in (3, 4) and arr.shape[-1] in (3, 4)
    return bool(rgb)


def as_frames(image, rgb: bool | None = None) -> tuple[np.ndarray, bool]:
    """``(frames, is_series)``: ``frames`` has shape ``(T, Y, X)`` or ``(T, Y, X, C)``.

    A single image gives ``T = 1`` and ``is_series=False``. Raises ``ValueError`` for shapes
    that are neither (1-D data, 4-D grey, a colour axis other than 3 or 4, ...).
    """
    arr = np.asarray(image)
    colour = _is_colour(arr, rgb)
    spatial = arr.ndim - (1 if colour else 0)
    if colour and arr.shape[-1] not in (3, 4):
        raise InvalidInput(f"a colour image needs 3 or 4 channels on its last axis, got shape {arr.shape}")
    if spatial == 2:
        return arr[None], False
    if spatial == 3:
        return arr, True
    kind = "colour " if colour else ""
    raise InvalidInput(
        f"expected a 2-D {kind}image or a time series of them ((T, Y, X) or (T, Y, X, 3)), got shape {arr.shape}"
    )


def incompatibility(reference, test, *, reference_rgb: bool | None = None, test_rgb: bool | None = None,
                    reference_name: str = "reference", test_name: str = "test") -> str | None:
    """Why ``test`` cannot be compared with ``reference`` (one sentence), or None if it can."""
    ref, img = np.asarray(reference), np.asarray(test)
    for arr, name, rgb in ((ref, reference_name, reference_rgb), (img, test_name, test_rgb)):
        if arr.size == 0:
            return f"{name} is empty (shape {arr.shape})"
        if arr.dtype.kind not in "biuf":
            return f"{name} has a non-numeric dtype ({arr.dtype})"
        try:
            as_frames(arr, rgb)
        except InvalidInput as error:
            return f"{name}: {error}"
    if _is_colour(ref, reference_rgb) != _is_colour(img, test_rgb):
        which = (reference_name, test_name) if _is_colour(ref, reference_rgb) else (test_name, reference_name)
        return f"{which[0]} is colour (RGB) but {which[1]} is grey; convert one of them first"
    if ref.shape != img.shape:
        return f"shapes differ: {reference_name} {ref.shape}, {test_name} {img.shape}"
    frames, _ = as_frames(ref, reference_rgb)
    if min(frames.shape[1:3]) < 11:
        return f"images must be at least 11 x 11 pixels for SSIM, got {frames.shape[1]} x {frames.shape[2]}"
    return None


@dataclass(frozen=True)
class IntensityScale:
    """How one image goes onto the common [0, 1] scale: ``(value - low) / span``."""

    low: float = 0.0
    span: float = 1.0
    #: In words, for the docks and notes: "uint8 / 255", "uint16 by its own min..max", ...
    rule: str = "as is"

    @property
    def factor(self) -> float:
        """What a difference of two values is multiplied by on the common scale."""
        return 1.0 / self.span

    def apply(self, image) -> np.ndarray:
        """``image`` on the common scale, as a float64 copy."""
        out = np.asarray(image).astype(np.float64)
        if self.low != 0.0:
            out -= self.low
        if self.span != 1.0:
            out /= self.span
        return out


def _own_range(arr: np.ndarray, dtype_name: str) -> IntensityScale:
    low, high = float(arr.min()), float(arr.max())
    return IntensityScale(low, high - low if high > low else 1.0, f"{dtype_name} by its own min..max ({low:g}..{high:g})")


def unit_scale(image) -> IntensityScale:
    """The rule of ``image``'s dtype for the common [0, 1] scale (see the module docstring)."""
    arr = np.asarray(image)
    name = str(arr.dtype)
    if arr.dtype == np.uint8:
        return IntensityScale(0.0, 255.0, "uint8 / 255")
    if arr.dtype == bool:
        return IntensityScale(0.0, 1.0, "bool as 0/1")
    if arr.dtype.kind in "iu":
        return _own_range(arr, name)
    if float(arr.min()) >= 0.0 and float(arr.max()) <= 1.0:
        return IntensityScale(0.0, 1.0, f"{name} as is (within [0, 1])")
    return _own_range(arr, name)


def common_scale(reference, test) -> tuple[IntensityScale, IntensityScale] | None:
    """The mappings that put ``reference`` and ``test`` on one [0, 1] scale, or None when they
    share a dtype (then they are compared in their own units)."""
    ref, img = np.asarray(reference), np.asarray(test)
    if ref.dtype == img.dtype:
        return None
    return unit_scale(ref), unit_scale(img)


def dtype_note(reference, test, *, reference_name: str = "reference", test_name: str = "test") -> str:
    """Which intensity scale a comparison of ``test`` with ``reference`` uses, in words."""
    scales = common_scale(reference, test)
    if scales is None:
        return f"{test_name}: own units (both {np.asarray(reference).dtype})"
    return (f"{test_name}: one [0, 1] scale ({reference_name} {scales[0].rule}; "
            f"{test_name} {scales[1].rule})")


def on_one_scale(reference, test, data_range: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """``(reference, test, data range)``: the pair as compared (see :func:`common_scale`) and the
    data range to score it with (``data_range`` if given, 1 on the common scale, else the
    reference's default)."""
    scales = common_scale(reference, test)
    ref, img = np.asarray(reference), np.asarray(test)
    if scales is not None:
        ref, img = scales[0].apply(ref), scales[1].apply(img)
    if data_range is not None:
        return ref, img, _resolve_range(ref, data_range)
    return ref, img, 1.0 if scales is not None else _data_range(ref)


def fidelity_rows(
    reference,
    tests: Mapping[str, object],
    *,
    rgb: bool | None = None,
    data_range: float | None = None,
    extra: Mapping[str, Callable[[np.ndarray, np.ndarray], float]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """PSNR, SSIM and RMSE of every test image against ``reference``, per frame.

    Rows are ``{"layer", "frame", "psnr", "ssim", "rmse", ...}`` in the order of ``tests``;
    ``frame`` is None for a single image, the frame index for each frame of a series, followed
    by a row with ``frame == "mean"`` holding the mean over the frames. ``extra`` adds columns
    (name -> ``fn(reference_frame, test_frame)``, e.g. LPIPS). ``progress(done, total)`` is
    called after every frame (it may raise to cancel). Raises ``ValueError`` with the
    sentence of :func:`incompatibility` if a test image does not fit the reference.
    A test image of another dtype than the reference is compared on one [0, 1] scale
    (:func:`common_scale`, data range 1 unless ``data_range`` is given).
    """
    ref = _checked(reference, "reference")
    frames_ref, series = as_frames(ref, rgb)
    extra = dict(extra or {})
    for name, test in tests.items():
        problem = incompatibility(ref, test, reference_rgb=rgb, test_rgb=rgb, test_name=name)
        if problem:
            raise InvalidInput(problem)
    total = len(tests) * frames_ref.shape[0]
    done = 0
    rows: list[dict] = []
    for name, test in tests.items():
        ref_scaled, test_scaled, dr = on_one_scale(ref, _checked(test, name), data_range)
        frames_ref, _ = as_frames(ref_scaled, rgb)
        frames_test, _ = as_frames(test_scaled, rgb)
        layer_rows = []
        for index in range(frames_ref.shape[0]):
            a, b = frames_ref[index], frames_test[index]
            row = {"layer": name, "frame": index if series else None,
                   "psnr": psnr(a, b, data_range=dr), "ssim": ssim(a, b, data_range=dr), "rmse": rmse(a, b)}
            for key, fn in extra.items():
                row[key] = float(fn(a, b))
            layer_rows.append(row)
            done += 1
            if progress is not None:
                progress(done, total)
        rows += layer_rows
        if series:
            mean = {"layer": name, "frame": MEAN_FRAME}
            for key in (*FIDELITY_METRICS, *extra):
                mean[key] = float(np.mean([r[key] for r in layer_rows]))
            rows.append(mean)
    return rows


def summary_rows(rows: Sequence[Mapping]) -> list[dict]:
    """One row per layer: the single image's row, or a series' mean row."""
    out = []
    for row in rows:
        if row["frame"] is None or row["frame"] == MEAN_FRAME:
            out.append(dict(row))
    return out


def _grey_frames(frames: np.ndarray, colour: bool) -> np.ndarray:
    return frames.astype(np.float64).mean(axis=-1) if colour else frames.astype(np.float64)


def difference_map(reference, image, *, rgb: bool | None = None) -> np.ndarray:
    """``|image - reference|`` as float32, in the images' own units (on one [0, 1] scale when
    their dtypes differ, see :func:`common_scale`), of the input's shape without its colour
    axis (colour images: the mean absolute difference over the channels)."""
    problem = incompatibility(reference, image, reference_rgb=rgb, test_rgb=rgb, test_name="image")
    if problem:
        raise InvalidInput(problem)
    ref, img = _checked(reference, "reference"), _checked(image, "image")
    colour = _is_colour(ref, rgb)
    ref, img, _ = on_one_scale(ref, img)
    diff = np.abs(img.astype(np.float64) - ref.astype(np.float64))
    if colour:
        diff = diff.mean(axis=-1)
    return diff.astype(np.float32)


def ssim_map(reference, image, *, rgb: bool | None = None, data_range: float | None = None) -> np.ndarray:
    """The local SSIM of every pixel (float32, in [-1, 1]) with the settings of
    :func:`~napari_vesselgan.metrics.ssim` (Gaussian window sigma 1.5, population covariance),
    on one [0, 1] scale when the dtypes differ; a series is mapped frame by frame; colour images average the per-channel maps.

    The mean of one frame's map, without the 5-pixel border skimage crops, is that frame's SSIM.
    """
    from skimage.metrics import structural_similarity

    problem = incompatibility(reference, image, reference_rgb=rgb, test_rgb=rgb, test_name="image")
    if problem:
        raise InvalidInput(problem)
    ref, img = _checked(reference, "reference"), _checked(image, "image")
    ref, img, dr = on_one_scale(ref, img, data_range)
    frames_ref, series = as_frames(ref, rgb)
    frames_img, _ = as_frames(img, rgb)
    colour = frames_ref.ndim == 4
    maps = []
    for a, b in zip(frames_ref, frames_img):
        _, full = structural_similarity(
            a.astype(np.float64), b.astype(np.float64), data_range=dr, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, K1=0.01, K2=0.03, channel_axis=-1 if colour else None, full=True,
        )
        maps.append(full.mean(axis=-1) if colour else full)
    out = np.stack(maps).astype(np.float32)
    return out if series else out[0]


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)
    return str(value)


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping], columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` (dicts) as CSV, atomically; full float precision, ``inf``/``nan`` spelled
    out, None as an empty cell. ``columns`` defaults to the keys of all rows, first seen first."""
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(row.get(column)) for column in columns])
    return path
