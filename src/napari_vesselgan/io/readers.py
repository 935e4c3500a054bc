"""Read the images the plugin works on: TIFF / OME-TIFF, PNG / JPEG and MP4 / AVI videos.

What comes back (:func:`read_image`):

- TIFF / OME-TIFF (tifffile): the first series, dtype as stored (uint8, uint16, float32/64, ...;
  1-bit images become uint8 0/1, big-endian data native byte order). 2-D grey ``(Y, X)``,
  RGB ``(Y, X, 3)``, stacks ``(T, Y, X)`` (a 3-D grey stack is treated as a time series or
  z-stack along its first axis), and ``(T, Y, X, 3)``. Alpha channels are dropped.
- PNG / JPEG (imageio): grey images ``(Y, X)`` (8- or 16-bit as stored), colour ``(Y, X, 3)``.
  An alpha channel is dropped (a ``UserWarning`` says so when it held any transparency), and an
  RGB image whose three channels are identical becomes 2-D grey.
- MP4 / AVI (imageio's ffmpeg plugin): ``(T, Y, X)`` uint8 when every frame is grey (the three
  channels agree to within 2 levels, i.e. the codec's chroma rounding), else ``(T, Y, X, 3)``.

Anything that cannot be read raises :class:`ImageReadError` with the path and a one-line
reason: a missing or empty file, an unsupported extension, a corrupt or truncated file, an array
with a zero-sized dimension or with more than 4 dimensions. Arrays are always in memory, never
views into a memory-mapped file.

Binary-mask rule (:func:`is_binary_mask`, :func:`read_any`): an integer image (bool counts; not
RGB, not float) whose values are exactly {0, 1} or exactly {0, 255}, both values present, is a
vessel mask; :func:`read_any` returns it as uint8 0/1 with layer type ``"labels"``. Everything
else is an ``"image"``.
"""

from __future__ import annotations

import mmap
import os
import warnings
from pathlib import Path

import numpy as np

from napari_vesselgan import InvalidInput

__all__ = [
    "ImageReadError",
    "TIFF_SUFFIXES",
    "RASTER_SUFFIXES",
    "VIDEO_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "suffix_of",
    "read_image",
    "read_any",
    "is_binary_mask",
    "is_rgb",
]

TIFF_SUFFIXES = (".tif", ".tiff")
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4", ".avi")
SUPPORTED_SUFFIXES = TIFF_SUFFIXES + RASTER_SUFFIXES + VIDEO_SUFFIXES

# Video frames whose channels differ by at most this much are grey (yuv420p chroma rounding).
_VIDEO_GREY_TOLERANCE = 2


class ImageReadError(InvalidInput):
    """A file could not be read as an image; the message names the file and the reason."""


def suffix_of(path: str | os.PathLike) -> str:
    """The lower-case extension that decides the format (``.ome.tif`` counts as ``.tif``)."""
    return Path(path).suffix.lower()


def _fail(path: Path, reason: str) -> ImageReadError:
    reason = " ".join(str(reason).split()) or "unknown error"  # one line
    return ImageReadError(f"cannot read {path}: {reason}")


def is_rgb(array: np.ndarray) -> bool:
    """True for colour arrays as this package lays them out: (Y, X, 3) or (T, Y, X, 3)."""
    return array.ndim in (3, 4) and array.shape[-1] == 3


def is_binary_mask(array: np.ndarray) -> bool:
    """True when ``array`` is a binary vessel mask by the module's rule (see the module docstring).

    Integer or bool, not RGB, values exactly {0, 1} or exactly {0, 255} with both present.
    """
    a = np.asarray(array)
    if a.size == 0 or is_rgb(a):
        return False
    if a.dtype == bool:
        return bool(a.any()) and not bool(a.all())
    if not np.issubdtype(a.dtype, np.integer):
        return False
    lo, hi = a.min(), a.max()
    if lo != 0:
        return False
    if hi == 1:
        return True
    if hi == 255:
        return not bool(np.any((a != 0) & (a != 255)))
    return False


def _memory_mapped(array: np.ndarray) -> bool:
    """True when ``array`` or any array it is a view of lives in a memory-mapped file."""
    base: object = array
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


def native_dtype(dtype: np.dtype) -> np.dtype:
    """``dtype`` in this machine's byte order (a big-endian TIFF's ``>u2`` -> ``uint16``): napari,
    torch and dask expect native numbers."""
    return dtype if dtype.byteorder in ("=", "|") else dtype.newbyteorder("=")


def _native(array: np.ndarray) -> np.ndarray:
    """An in-memory, native-byte-order, writeable array (never a view into a memory-mapped file)."""
    array = array.astype(native_dtype(array.dtype), copy=False)
    if _memory_mapped(array) or not array.flags.writeable:
        array = np.array(array, copy=True)
    return np.asarray(array)


def _check_shape(path: Path, array: np.ndarray) -> np.ndarray:
    if array.ndim < 2:
        raise _fail(path, f"expected an image with at least 2 dimensions, got shape {array.shape}")
    if array.ndim > 4:
        raise _fail(path, f"more than 4 dimensions are not supported, got shape {array.shape}")
    if 0 in array.shape:
        raise _fail(path, f"the image is empty (shape {array.shape})")
    return array


def _drop_alpha(path: Path, array: np.ndarray) -> np.ndarray:
    """(..., 4) RGBA -> RGB and (..., 2) grey+alpha -> grey, warning when transparency is lost."""
    alpha = array[..., -1]
    opaque = np.iinfo(array.dtype).max if np.issubdtype(array.dtype, np.integer) else 1.0
    if np.any(alpha != opaque):
        warnings.warn(f"{path}: the alpha channel was dropped (transparency is not kept)", UserWarning, stacklevel=3)
    return array[..., :-1] if array.shape[-1] == 4 else array[..., 0]


def _grey_if_equal(array: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """An RGB array whose channels agree (to within ``tolerance``) becomes its first channel."""
    if not is_rgb(array):
        return array
    r, g, b = (array[..., k] for k in range(3))
    if tolerance == 0:
        same = np.array_equal(r, g) and np.array_equal(r, b)
    else:
        r16 = r.astype(np.int16)
        same = bool(np.abs(r16 - g).max() <= tolerance and np.abs(r16 - b).max() <= tolerance)
    return np.ascontiguousarray(r) if same else array


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise InvalidInput("no image data in the file")
            series = tif.series[0]
            photometric = getattr(series.keyframe, "photometric", None)
            axes = str(series.axes)
            array = series.asarray()
    except ImageReadError:
        raise
    except Exception as exc:  # tifffile raises many kinds on corrupt input
        if "imagecodecs" in str(exc):  # LZW / ZSTD / JPEG... without the codecs installed
            raise _fail(path, f"{exc}: pip install 'napari-vesselgan[io]'") from exc
        raise _fail(path, f"not a readable TIFF ({type(exc).__name__}: {exc})") from exc
    array = _native(np.asarray(array))
    if array.dtype == bool:
        array = array.astype(np.uint8)
    rgb_like = photometric is not None and int(photometric) == int(tifffile.PHOTOMETRIC.RGB)
    if rgb_like and "S" in axes and len(axes) == array.ndim and axes.index("S") != array.ndim - 1:
        array = np.ascontiguousarray(np.moveaxis(array, axes.index("S"), -1))  # planar RGB -> (..., Y, X, 3)
    if rgb_like and array.ndim >= 3 and array.shape[-1] in (2, 4):
        array = _drop_alpha(path, array)
    return array


#: The first bytes of PNG and JPEG files: a file that starts with neither is not an image.
_RASTER_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


def _read_raster(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    kind = suffix_of(path)[1:].upper()
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head.startswith(_RASTER_SIGNATURES):
        raise _fail(path, f"not an image: the file does not start like a {kind} file (a misnamed or "
                          "non-image file?)")
    try:
        array = np.asarray(iio.imread(path, extension=suffix_of(path)))
    except Exception as exc:  # imageio's advice about plugins would mislead: say what is wrong
        raise _fail(path, f"not a readable {kind} image: the file is corrupt or truncated "
                          f"({type(exc).__name__})") from exc
    array = _native(array)
    if array.ndim == 3 and array.shape[-1] in (2, 4):
        array = _drop_alpha(path, array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return _grey_if_equal(array)


def _read_video(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    try:
        frames = [np.asarray(frame) for frame in iio.imiter(path, plugin="FFMPEG")]
    except Exception as exc:
        raise _fail(path, f"not a readable video ({type(exc).__name__}: {exc})") from exc
    if not frames:
        raise _fail(path, "the video has no frames")
    video = np.stack(frames)
    if video.ndim == 3:  # already grey frames
        return video
    return _grey_if_equal(video, tolerance=_VIDEO_GREY_TOLERANCE)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read one image, stack or video into a numpy array (layout in the module docstring).

    Raises :class:`ImageReadError` for missing, empty, unsupported, corrupt or ill-shaped files.
    """
    p = Path(path)
    suffix = suffix_of(p)
    if suffix not in SUPPORTED_SUFFIXES:
        raise _fail(p, f"unsupported file type {suffix or '(no extension)'!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if not p.exists():
        raise _fail(p, "no such file")
    if not p.is_file():
        raise _fail(p, "not a file")
    if p.stat().st_size == 0:
        raise _fail(p, "the file is empty (0 bytes)")
    if suffix in TIFF_SUFFIXES:
        array = _read_tiff(p)
    elif suffix in RASTER_SUFFIXES:
        array = _read_raster(p)
    else:
        array = _read_video(p)
    return _check_shape(p, array)


def read_any(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """Read ``path`` and decide its layer type: ``(uint8 0/1 mask, "labels")`` or ``(data, "image")``."""
    data = read_image(path)
    if is_binary_mask(data):
        return (data != 0).astype(np.uint8), "labels"
    return data, "image"
