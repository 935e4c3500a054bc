"""Write images, stacks and videos atomically (a temporary file beside the target, then a rename).

- :func:`write_tiff`: TIFF / OME-TIFF (name ending ``.ome.tif``), zlib-compressed by default;
  dtypes kept (16-bit and float included), bool stored as uint8 0/1, ``(Y, X, 3)`` and
  ``(T, Y, X, 3)`` stored as RGB.
- :func:`write_video`: MP4 / AVI with libx264 (yuv420p). Frames are converted to uint8: uint8
  as is, floats within [0, 1] times 255, anything else scaled by the stack's min / max. Odd
  heights or widths are padded (edge values) by one pixel to even, which yuv420p needs, so such a
  video reads back one pixel larger.
- :func:`write_frames`: frames from an iterator, one at a time, to a TIFF stack or a video
  (for videos generated frame by frame).
- :func:`write_image`: chooses by extension: ``.tif``/``.tiff`` -> TIFF; ``.png``/``.jpg``/
  ``.jpeg`` -> imageio (uint8 or uint16 PNG, uint8 JPEG; bool -> 0/255; floats within [0, 1]
  -> uint8; integers that fit -> the smallest of uint8 / uint16 the format holds);
  ``.mp4``/``.avi`` -> video.

Every writer returns the written path; on failure the target is untouched and no temporary file
is left behind (:func:`napari_vesselgan.io.atomic.atomic_path`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from napari_vesselgan import InvalidInput
from .atomic import atomic_path
from .metadata import PhysicalScale
from .readers import RASTER_SUFFIXES, SUPPORTED_SUFFIXES, TIFF_SUFFIXES, VIDEO_SUFFIXES, is_rgb, suffix_of

__all__ = ["write_frames", "write_tiff", "write_video", "write_image"]


def _checked(array: Any, *, min_ndim: int = 2, max_ndim: int = 4) -> np.ndarray:
    """``array`` as numpy (dask and lists computed), checked for a writable shape."""
    a = np.asarray(array)
    if not min_ndim <= a.ndim <= max_ndim:
        raise InvalidInput(f"expected an array with {min_ndim} to {max_ndim} dimensions, got shape {a.shape}")
    if 0 in a.shape:
        raise InvalidInput(f"cannot write an empty array (shape {a.shape})")
    return a


def _is_ome(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".ome.tif") or name.endswith(".ome.tiff")


def write_tiff(
    path: str | os.PathLike,
    array: Any,
    *,
    compression: str | None = "zlib",
    metadata: Mapping[str, Any] | None = None,
    scale: PhysicalScale | None = None,
) -> Path:
    """Write ``array`` (2-D, RGB, or a 3-D / 4-D stack) as a TIFF, or OME-TIFF for ``*.ome.tif``.

    ``compression`` is a tifffile codec name (``"zlib"`` needs nothing extra) or None;
    integer data get the horizontal-difference predictor, which shrinks smooth 16-bit images.
    ``metadata`` (JSON-serialisable) goes into the image description (the OME metadata for
    OME-TIFF). ``scale``: physical pixel sizes, as OME ``PhysicalSize*`` (OME-TIFF) or as
    resolution tags in pixels per centimetre (plain TIFF, Y and X only).
    """
    import tifffile

    target = Path(path)
    a = _checked(array)
    if a.dtype == bool:
        a = a.astype(np.uint8)
    photometric = "rgb" if is_rgb(a) else "minisblack"
    # tifffile's horizontal predictor takes integers of up to 32 bits (not uint64 / int64)
    predictor = bool(compression) and np.issubdtype(a.dtype, np.integer) and a.dtype.itemsize <= 4
    meta = dict(metadata) if metadata is not None else {}
    ome = _is_ome(target)
    if ome:  # the temporary name does not end in .ome.tif, so say it explicitly
        meta.setdefault("axes", _ome_axes(a))
        meta.update(scale.ome_tiff_metadata() if scale else {})
    resolution = scale.tiff_resolution() if scale and not ome else {}
    with atomic_path(target) as tmp:
        tifffile.imwrite(
            tmp,
            a,
            photometric=photometric,
            compression=compression,
            predictor=predictor or None,
            metadata=meta,
            ome=ome,
            **resolution,
        )
    return target


def _ome_axes(a: np.ndarray) -> str:
    """OME axis letters for our layouts: (Y,X), (Y,X,S), (T,Y,X), (T,Y,X,S)."""
    if is_rgb(a):
        return "YXS" if a.ndim == 3 else "TYXS"
    return "YX" if a.ndim == 2 else ("TYX" if a.ndim == 3 else "TZYX")


def _video_uint8(frames: np.ndarray) -> np.ndarray:
    """uint8 frames: uint8 as is, floats in [0, 1] x 255, anything else by the stack's min / max."""
    if frames.dtype == np.uint8:
        return frames
    if frames.dtype == bool:
        return frames.astype(np.uint8) * 255
    f = frames.astype(np.float64)
    if not np.all(np.isfinite(f)):
        raise InvalidInput("video frames contain NaN or infinite values")
    lo, hi = float(f.min()), float(f.max())
    if np.issubdtype(frames.dtype, np.floating) and lo >= 0.0 and hi <= 1.0:
        scaled = f * 255.0
    elif hi > lo:
        scaled = (f - lo) * (255.0 / (hi - lo))
    else:
        scaled = np.zeros_like(f)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad Y and X to even sizes (edge values), as yuv420p requires."""
    pad_y, pad_x = frames.shape[1] % 2, frames.shape[2] % 2
    if not (pad_y or pad_x):
        return frames
    widths = [(0, 0), (0, pad_y), (0, pad_x)] + [(0, 0)] * (frames.ndim - 3)
    return np.pad(frames, widths, mode="edge")


def write_video(path: str | os.PathLike, frames: Any, *, fps: float = 5, quality: float = 8) -> Path:
    """Write ``(T, Y, X)`` or ``(T, Y, X, 3)`` frames as an H.264 video (MP4 or AVI by extension).

    ``quality`` is imageio-ffmpeg's 0-10 scale (10 best). Conversion to uint8 and even-size
    padding as in the module docstring.
    """
    target = Path(path)
    if suffix_of(target) not in VIDEO_SUFFIXES:
        raise InvalidInput(f"{target}: a video needs one of the extensions {', '.join(VIDEO_SUFFIXES)}")
    a = _checked(frames, min_ndim=3, max_ndim=4)
    if a.ndim == 4 and a.shape[-1] != 3:
        raise InvalidInput(f"colour video frames must be (T, Y, X, 3), got shape {a.shape}")
    if fps <= 0:
        raise InvalidInput(f"fps must be positive, got {fps}")
    video = _pad_even(_video_uint8(a))
    with atomic_path(target) as tmp:
        _encode(tmp, video, fps=fps, quality=quality)
    return target


def _encode(path: Path, frames: Iterable[np.ndarray], *, fps: float, quality: float) -> int:
    """H.264-encode uint8 frames of even size into ``path``; returns the number of frames."""
    import imageio.v2 as iio2

    writer = iio2.get_writer(
        path,
        format="FFMPEG",
        mode="I",
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        quality=quality,
        macro_block_size=1,  # we padded to even sizes ourselves; no silent resizing
    )
    count = 0
    try:
        for frame in frames:
            writer.append_data(frame)
            count += 1
    finally:
        writer.close()
    return count


def write_frames(path: str | os.PathLike, frames: Iterable[np.ndarray], *, fps: float = 5,
                 quality: float = 8) -> Path:
    """Write frames as they come (an iterator of (Y, X) arrays), holding one at a time: a TIFF
    stack (T, Y, X) in the frames' dtype, or an MP4 / AVI (float frames in [0, 1] x 255, uint8 as is).

    For generators that make long videos frame by frame (fundus2video); atomic like every writer.
    """
    target = Path(path)
    suffix = suffix_of(target)
    if suffix not in VIDEO_SUFFIXES + TIFF_SUFFIXES:
        raise InvalidInput(f"{target}: frames go to a TIFF stack or a video ({', '.join(TIFF_SUFFIXES + VIDEO_SUFFIXES)})")
    if fps <= 0:
        raise InvalidInput(f"fps must be positive, got {fps}")

    def checked() -> Iterator[np.ndarray]:
        for index, frame in enumerate(frames):
            frame = np.asarray(frame)
            if frame.ndim != 2:
                raise InvalidInput(f"frame {index} has shape {frame.shape}; expected a 2-D grey frame")
            yield frame

    with atomic_path(target) as tmp:
        if suffix in VIDEO_SUFFIXES:
            count = _encode(tmp, (_pad_even(_video_uint8(f[None]))[0] for f in checked()), fps=fps, quality=quality)
        else:
            import tifffile

            count = 0
            with tifffile.TiffWriter(tmp) as tif:
                for frame in checked():
                    tif.write(frame, contiguous=True)
                    count += 1
        if count == 0:
            raise InvalidInput("no frames to write")
    return target


def _raster_dtype(a: np.ndarray, suffix: str) -> np.ndarray:
    """Convert to what PNG (uint8 / uint16) or JPEG (uint8) can hold, or refuse clearly."""
    allowed = (np.uint8, np.uint16) if suffix == ".png" else (np.uint8,)
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if a.dtype in allowed:
        return a
    if np.issubdtype(a.dtype, np.floating):
        if np.all(np.isfinite(a)) and a.min() >= 0.0 and a.max() <= 1.0:
            return np.rint(a * 255.0).astype(np.uint8)
        raise InvalidInput(f"{suffix} cannot hold float data outside [0, 1]; save it as .tif instead")
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = int(a.min()), int(a.max())
        for dtype in allowed:
            if lo >= 0 and hi <= np.iinfo(dtype).max:
                return a.astype(dtype)
        raise InvalidInput(
            f"{suffix} holds {'8- or 16-bit' if suffix == '.png' else '8-bit'} unsigned data; "
            f"values span {lo}..{hi} ({a.dtype}); save it as .tif instead"
        )
    raise InvalidInput(f"cannot write {a.dtype} data as {suffix}")


def write_image(path: str | os.PathLike, array: Any) -> Path:
    """Write ``array`` in the format its extension names (see the module docstring)."""
    import imageio.v3 as iio

    target = Path(path)
    suffix = suffix_of(target)
    if suffix not in SUPPORTED_SUFFIXES:
        raise InvalidInput(
            f"{target}: unsupported extension {suffix or '(none)'!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if suffix in TIFF_SUFFIXES:
        return write_tiff(target, array)
    if suffix in VIDEO_SUFFIXES:
        return write_video(target, array)
    assert suffix in RASTER_SUFFIXES
    a = _checked(array, max_ndim=3)
    if a.ndim == 3 and not is_rgb(a):
        raise InvalidInput(f"{suffix} holds one 2-D grey or (Y, X, 3) colour image, got shape {a.shape}; use .tif for stacks")
    a = _raster_dtype(a, suffix)
    with atomic_path(target) as tmp:
        if suffix == ".png":
            iio.imwrite(tmp, a, extension=".png")
        else:
            iio.imwrite(tmp, a, extension=".jpg", quality=95)
    return target
