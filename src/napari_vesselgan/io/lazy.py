"""Images larger than memory: open them lazily, write results tile by tile.

:func:`open_image` is what batch prediction and the napari reader use: a TIFF whose pixels
would take more than :func:`lazy_threshold_bytes` opens as a dask array over tifffile's zarr
store (chunks are the file's tiles or strips, read when a window needs them), an OME-Zarr
always opens lazily, and everything else is read into memory as :func:`readers.read_image`
reads it. Either way it comes with its axes and physical scale.

:func:`write_tiff_tiled` writes a (dask or zarr) array to a tiled, compressed TIFF / OME-TIFF
tile by tile (BigTIFF when large), holding one tile at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path
from .metadata import PhysicalScale, read_tiff_scale, tiff_scale
from .readers import TIFF_SUFFIXES, ImageReadError, native_dtype, read_image, suffix_of

__all__ = ["OpenedImage", "lazy_threshold_bytes", "open_image", "open_tiff_lazy", "opens_lazily", "scratch_array",
           "write_tiff_tiled"]

#: A TIFF opens lazily when its pixels exceed this fraction of the memory available now.
LAZY_FRACTION = 0.25
TIFF_TILE = 512


@dataclass(frozen=True)
class OpenedImage:
    """An image as :func:`open_image` opened it: numpy (in memory) or dask (lazy)."""

    data: Any
    #: Our axis letters, e.g. "yx", "tyx", "yxc" (colour last).
    axes: str
    scale: PhysicalScale
    #: Lower resolution levels after ``data`` (pyramidal files), else empty.
    levels: tuple[Any, ...] = ()

    @property
    def lazy(self) -> bool:
        return not isinstance(self.data, np.ndarray)


def lazy_threshold_bytes() -> int:
    """Bytes above which a TIFF opens lazily: ``VESSELGAN_LAZY_MB``, or a quarter of available memory."""
    if "VESSELGAN_LAZY_MB" in os.environ:
        return int(float(os.environ["VESSELGAN_LAZY_MB"]) * 2**20)
    try:
        import psutil

        available = psutil.virtual_memory().available
    except ImportError:  # psutil comes with napari and dask.distributed; this is the bare library
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return int(available * LAZY_FRACTION)


def _axes_of(shape: tuple[int, ...]) -> str:
    rgb = len(shape) in (3, 4) and shape[-1] == 3
    if rgb:
        return "yxc" if len(shape) == 3 else "tyxc"
    return {2: "yx", 3: "tyx", 4: "tzyx"}.get(len(shape), "")


def _tiff_axes(tif: Any, shape: tuple[int, ...]) -> str:
    axes = _axes_of(shape)
    if len(shape) == 3 and axes == "tyx" and str(tif.series[0].axes)[:1] == "Z":
        return "zyx"
    return axes


def open_tiff_lazy(path: str | os.PathLike) -> OpenedImage:
    """A TIFF's first series as a dask array over tifffile's zarr store (never read whole), in the
    layout ``read_image`` gives: colour last, alpha dropped, native byte order."""
    import dask.array as da
    import tifffile

    from .ome_zarr import require_zarr

    zarr = require_zarr()
    p = Path(path)
    try:
        with tifffile.TiffFile(p) as tif:
            series = tif.series[0]
            scale = tiff_scale(tif)
            photometric = getattr(series.keyframe, "photometric", None)
            axes = str(series.axes)
        store = tifffile.imread(p, aszarr=True)
        node = zarr.open(store, mode="r")
    except Exception as exc:
        raise ImageReadError(f"cannot read {p}: not a readable TIFF ({type(exc).__name__}: {exc})") from exc
    levels = [da.from_zarr(node[key]) for key in sorted(node.array_keys(), key=int)] \
        if isinstance(node, zarr.Group) else [da.from_zarr(node)]
    rgb_like = photometric is not None and int(photometric) == int(tifffile.PHOTOMETRIC.RGB)
    fixed = []
    for level in levels:
        if native_dtype(level.dtype) != level.dtype:
            level = level.astype(native_dtype(level.dtype))
        if level.dtype == bool:
            level = level.astype(np.uint8)
        if rgb_like and "S" in axes and len(axes) == level.ndim and axes.index("S") != level.ndim - 1:
            level = da.moveaxis(level, axes.index("S"), -1)
        if rgb_like and level.ndim >= 3 and level.shape[-1] in (2, 4):
            level = level[..., :-1] if level.shape[-1] == 4 else level[..., 0]
        fixed.append(level)
    data = fixed[0]
    if not 2 <= data.ndim <= 4 or 0 in data.shape:
        raise ImageReadError(f"cannot read {p}: expected a 2-D to 4-D image, got shape {data.shape}")
    with tifffile.TiffFile(p) as tif:
        layout = _tiff_axes(tif, data.shape)
    return OpenedImage(data, layout, scale, tuple(fixed[1:]))


def _tiff_nbytes(path: Path) -> int:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return int(np.prod(series.shape)) * np.dtype(series.dtype).itemsize
    except Exception:
        return 0  # read_image reports what is wrong with it


def opens_lazily(path: Path) -> bool:
    """Whether a TIFF is large enough to open lazily (and zarr is there to do it; without it a
    large TIFF is read into memory, as before)."""
    import importlib.util

    return (suffix_of(path) in TIFF_SUFFIXES and _tiff_nbytes(path) > lazy_threshold_bytes()
            and importlib.util.find_spec("zarr") is not None)


def open_image(path: str | os.PathLike, *, lazy: bool | None = None) -> OpenedImage:
    """An image file or OME-Zarr folder with its axes and physical scale; lazy (dask) when it is an
    OME-Zarr or a TIFF larger than :func:`lazy_threshold_bytes` (``lazy`` True / False forces it)."""
    from .ome_zarr import is_ome_zarr, read_ome_zarr

    p = Path(path)
    if is_ome_zarr(p):
        image = read_ome_zarr(p)
        data = image.data if lazy is not False else np.asarray(image.data)
        return OpenedImage(data, image.axes, image.scale, tuple(image.levels[1:]) if lazy is not False else ())
    is_tiff = suffix_of(p) in TIFF_SUFFIXES
    if is_tiff and p.is_file() and (lazy or (lazy is None and opens_lazily(p))):
        return open_tiff_lazy(p)
    data = read_image(p)
    if is_tiff:
        import tifffile

        with tifffile.TiffFile(p) as tif:
            axes = _tiff_axes(tif, data.shape)
        return OpenedImage(data, axes, read_tiff_scale(p))
    return OpenedImage(data, _axes_of(data.shape), PhysicalScale())


def _tiles(array: Any, tile: int) -> Iterator[np.ndarray]:
    """Tiles of ``array`` ((..., Y, X) or (..., Y, X, 3)) in tifffile's order: plane by plane, row-major."""
    rgb = array.ndim in (3, 4) and array.shape[-1] == 3
    plane_shape = array.shape[: array.ndim - (3 if rgb else 2)]
    height, width = array.shape[-3:-1] if rgb else array.shape[-2:]
    for index in np.ndindex(*plane_shape):
        for y in range(0, height, tile):
            for x in range(0, width, tile):
                yield np.asarray(array[(*index, slice(y, y + tile), slice(x, x + tile))])


def write_tiff_tiled(path: str | os.PathLike, array: Any, *, scale: PhysicalScale | None = None,
                     compression: str = "zlib", tile: int = TIFF_TILE) -> Path:
    """Write ``array`` (numpy, dask, zarr; our layout) as a tiled TIFF (OME-TIFF for ``*.ome.tif``)
    one tile at a time; BigTIFF past 2 GiB; physical scale as ``write_tiff`` writes it. Atomic."""
    import tifffile

    from .writers import _is_ome

    target = Path(path)
    dtype = np.dtype(array.dtype)
    rgb = array.ndim in (3, 4) and array.shape[-1] == 3
    ome = _is_ome(target)
    metadata: dict[str, Any] = {}
    if ome:
        metadata = {"axes": _axes_of(tuple(array.shape)).upper().replace("C", "S"),
                    **(scale.ome_tiff_metadata() if scale else {})}
    resolution = scale.tiff_resolution() if scale and not ome else {}
    with atomic_path(target) as tmp:
        tifffile.imwrite(
            tmp, _tiles(array, tile), shape=tuple(array.shape), dtype=dtype, tile=(tile, tile),
            photometric="rgb" if rgb else "minisblack", compression=compression,
            predictor=True if np.issubdtype(dtype, np.integer) else None,
            bigtiff=int(np.prod(array.shape)) * dtype.itemsize > 2**31, metadata=metadata, ome=ome, **resolution)
    return target


_SCRATCH: list[Path] = []


def scratch_array(shape: tuple[int, ...], dtype: Any, *, beside: Path | None = None) -> Any:
    """An empty zarr array on disk for a result too large for memory (chunks of 512 x 512 in Y, X):
    in a hidden folder in ``beside`` (the caller removes it), or else in ``VESSELGAN_SCRATCH`` or
    the system's temporary folder, removed when the process ends."""
    import atexit
    import shutil
    import tempfile

    from .ome_zarr import CHUNK, require_zarr

    zarr = require_zarr()
    if beside is not None:
        beside.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".vesselgan-", suffix=".scratch.zarr", dir=beside))
    else:
        if not _SCRATCH:
            base = os.environ.get("VESSELGAN_SCRATCH") or None
            _SCRATCH.append(Path(tempfile.mkdtemp(prefix="napari-vesselgan-", dir=base)))
            atexit.register(shutil.rmtree, _SCRATCH[0], ignore_errors=True)
        folder = Path(tempfile.mkdtemp(suffix=".zarr", dir=_SCRATCH[0]))
    chunks = tuple(min(CHUNK, n) if i >= len(shape) - 2 else 1 for i, n in enumerate(shape))
    return zarr.open_array(str(folder), mode="w", shape=tuple(shape), dtype=np.dtype(dtype), chunks=chunks)
