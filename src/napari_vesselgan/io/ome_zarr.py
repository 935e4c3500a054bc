"""OME-Zarr (OME-NGFF) images in and out, with zarr alone.

Written: NGFF 0.4 (zarr format 2), the version every current reader opens (napari-ome-zarr,
ome-zarr-py, Fiji's n5-zarr / MoBIE, QuPath, vizarr, neuroglancer). Read: NGFF 0.4 and 0.5
(zarr format 3, metadata under ``"ome"``). Why not the ``ome-zarr`` package: it pulls s3fs and
botocore, and its ``ome-zarr-models`` pins pydantic below the version napari here needs; the
metadata are a few lines of JSON that this module writes and checks itself.

An image keeps its dtype, its axes (``t``, ``c``, ``z``, ``y``, ``x`` in NGFF's order; colour
``(Y, X, 3)`` is stored as ``(c, y, x)`` and read back as ``(Y, X, 3)``) and its physical scale
(units in NGFF's names). Level 0 is chunked (512 x 512 in Y, X; one plane of the other axes);
images larger than :data:`PYRAMID_MIN_SIDE` get further levels, each half the size of the one
before (2 x 2 mean, in the image's dtype), until the smallest fits in one chunk.

Writing is atomic: the image is written into a hidden folder beside the target and renamed onto
it at the end, so a folder with the target's name is always complete. Arrays may be numpy or
dask (written chunk by chunk, never held whole); :func:`create` gives an empty level 0 to fill
tile by tile (``Method.predict_into``) before :func:`finish` adds the pyramid and renames.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from napari_vesselgan import InvalidInput
from .metadata import PhysicalScale

__all__ = ["CHUNK", "PYRAMID_MIN_SIDE", "OmeZarrImage", "create", "finish", "is_ome_zarr", "read_ome_zarr",
           "write_ome_zarr"]

CHUNK = 512
#: Images with a side longer than this get a pyramid.
PYRAMID_MIN_SIDE = 1024
NGFF_VERSION = "0.4"
_AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}


def require_zarr() -> Any:
    """The zarr module, or a one-line error naming the extra that installs it."""
    try:
        import zarr
    except ImportError:
        raise InvalidInput("OME-Zarr and lazily opened large images need zarr: "
                           "pip install 'napari-vesselgan[io]'") from None
    return zarr


def is_ome_zarr(path: str | os.PathLike) -> bool:
    """True for a folder that is an OME-Zarr image (its name ends in ``.zarr`` or it holds multiscales)."""
    p = Path(path)
    if not p.is_dir():
        return False
    return p.name.lower().endswith(".zarr") or any((p / name).is_file() for name in (".zattrs", "zarr.json"))


@dataclass(frozen=True)
class OmeZarrImage:
    """What :func:`read_ome_zarr` returns: the levels (dask, full resolution first) in this
    package's layout, their axes (e.g. ``"tyx"``, ``"yxc"``), the physical scale and the name."""

    levels: list[Any]
    axes: str
    scale: PhysicalScale
    name: str

    @property
    def data(self) -> Any:
        return self.levels[0]


def _ngff_axes(array_axes: str) -> tuple[str, tuple[int, ...]]:
    """NGFF's axis order for ``array_axes`` (channels last in ours, before z/y/x in NGFF) and the
    transposition from ours to it."""
    order = [a for a in "tczyx" if a in array_axes]
    return "".join(order), tuple(array_axes.index(a) for a in order)


def default_axes(shape: tuple[int, ...]) -> str:
    """Our axes for an array of ``shape``: (Y, X), (Y, X, 3), (T, Y, X), (T, Y, X, 3), (T, Z, Y, X)."""
    rgb = len(shape) in (3, 4) and shape[-1] == 3
    if rgb:
        return "yxc" if len(shape) == 3 else "tyxc"
    return {2: "yx", 3: "tyx", 4: "tzyx"}.get(len(shape)) or _too_many(shape)


def _too_many(shape: tuple[int, ...]) -> str:
    raise InvalidInput(f"expected an image with 2 to 4 dimensions, got shape {shape}")


def _chunks(shape: tuple[int, ...], axes: str) -> tuple[int, ...]:
    return tuple(min(CHUNK, n) if a in "yx" else (n if a == "c" else 1) for a, n in zip(axes, shape, strict=True))


def _level_count(shape: tuple[int, ...], axes: str) -> int:
    side = max(n for a, n in zip(axes, shape, strict=True) if a in "yx")
    if side <= PYRAMID_MIN_SIDE:
        return 1
    count = 1
    while side > CHUNK:
        side = (side + 1) // 2
        count += 1
    return count


def _multiscales(axes: str, scale: PhysicalScale, levels: int, name: str) -> dict[str, Any]:
    axis_entries = []
    for axis in axes:
        entry = {"name": axis, "type": _AXIS_TYPES[axis]}
        if scale.unit(axis) and axis != "c":
            entry["unit"] = scale.unit(axis)
        axis_entries.append(entry)
    base = scale.for_axes(axes)
    datasets = []
    for level in range(levels):
        factors = [2.0**level if a in "yx" else 1.0 for a in axes]
        datasets.append({"path": str(level), "coordinateTransformations": [
            {"type": "scale", "scale": [float(b * f) for b, f in zip(base, factors, strict=True)]}]})
    entry = {"version": NGFF_VERSION, "name": name, "axes": axis_entries, "datasets": datasets}
    if levels > 1:
        entry["type"] = "mean"
    return entry


@contextlib.contextmanager
def _atomic_folder(target: Path) -> Iterator[Path]:
    """A hidden folder beside ``target`` renamed onto it on success (removed on failure)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class _Pending:
    """An OME-Zarr being written: level 0 to fill, then :func:`finish`."""

    def __init__(self, target: Path, tmp: Path, group: Any, level0: Any, axes: str, ngff: str, order: tuple,
                 scale: PhysicalScale, name: str, context: Any):
        self.target, self.tmp, self.group, self.level0 = target, tmp, group, level0
        self.axes, self.ngff, self.order, self.scale, self.name = axes, ngff, order, scale, name
        self._context = context

    def __setitem__(self, key: Any, block: np.ndarray) -> None:
        """Write ``block`` at ``key`` given in our axes' order (channels last)."""
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (len(self.axes) - len(key))
        block = np.asarray(block)
        if block.ndim == len(self.axes):
            block = np.transpose(block, self.order)
        self.level0[tuple(key[i] for i in self.order)] = block

    @property
    def shape(self) -> tuple[int, ...]:
        inverse = np.argsort(self.order)
        return tuple(self.level0.shape[i] for i in inverse)

    @property
    def dtype(self) -> np.dtype:
        return self.level0.dtype


def create(path: str | os.PathLike, shape: tuple[int, ...], dtype: Any, *, axes: str | None = None,
           scale: PhysicalScale | None = None, name: str | None = None) -> _Pending:
    """An empty OME-Zarr level 0 of ``shape`` / ``dtype`` in our layout (write with ``[...] = ``);
    call :func:`finish` to add the pyramid and put it in place (atomically)."""
    zarr = require_zarr()

    target = Path(path)
    axes = (axes or default_axes(tuple(shape))).lower()
    if len(axes) != len(shape):
        raise InvalidInput(f"axes {axes!r} do not match an array of shape {tuple(shape)}")
    ngff, order = _ngff_axes(axes)
    ngff_shape = tuple(shape[i] for i in order)
    context = _atomic_folder(target)
    tmp = context.__enter__()
    try:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        level0 = group.create_array("0", shape=ngff_shape, dtype=np.dtype(dtype), chunks=_chunks(ngff_shape, ngff),
                                    fill_value=0, chunk_key_encoding={"name": "v2", "separator": "/"})
    except BaseException:
        context.__exit__(None, None, None)
        raise
    return _Pending(target, tmp, group, level0, axes, ngff, order, scale or PhysicalScale(),
                    name or _stem(target), context)


def finish(pending: _Pending) -> Path:
    """Add the pyramid levels and the NGFF metadata, then rename the folder onto its target."""
    import dask.array as da

    try:
        levels = _level_count(pending.level0.shape, pending.ngff)
        previous = da.from_zarr(pending.level0)
        for level in range(1, levels):
            previous = _downsample(previous, pending.ngff)
            array = pending.group.create_array(str(level), shape=previous.shape, dtype=previous.dtype,
                                               chunks=_chunks(previous.shape, pending.ngff), fill_value=0,
                                               chunk_key_encoding={"name": "v2", "separator": "/"})
            da.store(previous.rechunk(array.chunks), array, lock=False)
            previous = da.from_zarr(array)
        pending.group.attrs.update({"multiscales": [_multiscales(pending.ngff, pending.scale, levels, pending.name)]})
    except BaseException as error:
        pending._context.__exit__(type(error), error, error.__traceback__)
        raise
    pending._context.__exit__(None, None, None)
    return pending.target


def abandon(pending: _Pending) -> None:
    """Drop an OME-Zarr being written (nothing is left behind)."""
    pending._context.__exit__(InvalidInput, InvalidInput("abandoned"), None)


def _downsample(array: Any, axes: str) -> Any:
    """2 x 2 mean in Y and X (odd sides: the last row / column is averaged with itself), same dtype."""
    import dask.array as da

    pad = [(0, n % 2) if a in "yx" else (0, 0) for a, n in zip(axes, array.shape, strict=True)]
    if any(p[1] for p in pad):
        array = da.pad(array, pad, mode="edge")
    factors = {i: (2 if a in "yx" else 1) for i, a in enumerate(axes)}
    mean = da.coarsen(np.mean, array.astype(np.float64), factors, trim_excess=True)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        mean = da.clip(da.round(mean), info.min, info.max)
    return mean.astype(array.dtype)


def _stem(path: Path) -> str:
    name = path.name
    for ending in (".ome.zarr", ".zarr"):
        if name.lower().endswith(ending):
            return name[: -len(ending)]
    return name


def write_ome_zarr(path: str | os.PathLike, array: Any, *, axes: str | None = None,
                   scale: PhysicalScale | None = None, name: str | None = None) -> Path:
    """Write ``array`` (numpy or dask, our layout) as an OME-Zarr image; see the module docstring."""
    import dask.array as da

    if not hasattr(array, "shape"):
        array = np.asarray(array)
    if 0 in array.shape:
        raise InvalidInput(f"cannot write an empty array (shape {tuple(array.shape)})")
    if np.dtype(array.dtype) == bool:
        array = array.astype(np.uint8)
    pending = create(path, tuple(array.shape), array.dtype, axes=axes, scale=scale, name=name)
    try:
        source = array if isinstance(array, da.Array) else da.from_array(array, chunks=-1)
        source = da.transpose(source, pending.order)
        da.store(source.rechunk(pending.level0.chunks), pending.level0, lock=False)
    except BaseException:
        abandon(pending)
        raise
    return finish(pending)


def _multiscales_of(attrs: dict[str, Any]) -> tuple[dict[str, Any], str]:
    if "ome" in attrs and "multiscales" in attrs["ome"]:  # NGFF 0.5
        return attrs["ome"]["multiscales"][0], str(attrs["ome"].get("version", "0.5"))
    if "multiscales" in attrs:
        entry = attrs["multiscales"][0]
        return entry, str(entry.get("version", "0.4"))
    raise InvalidInput("no OME-NGFF multiscales metadata (not an OME-Zarr image)")


def read_ome_zarr(path: str | os.PathLike) -> OmeZarrImage:
    """Open an OME-Zarr image lazily (dask levels in our layout, channels last); raises
    :class:`~napari_vesselgan.io.readers.ImageReadError` with the reason when it cannot."""
    import dask.array as da

    from .readers import ImageReadError

    zarr = require_zarr()
    p = Path(path)
    try:
        group = zarr.open_group(str(p), mode="r")
        entry, _ = _multiscales_of(dict(group.attrs))
        ngff = "".join(str(axis["name"] if isinstance(axis, dict) else axis).lower() for axis in entry["axes"])
        arrays = [group[str(d["path"])] for d in entry["datasets"]]
        transforms = entry["datasets"][0].get("coordinateTransformations", [])
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(f"cannot read {p}: not a readable OME-Zarr image ({type(exc).__name__}: {exc})") from exc
    if not 2 <= len(ngff) <= 5 or set(ngff) - set("tczyx"):
        raise ImageReadError(f"cannot read {p}: unsupported axes {ngff!r}")
    sizes = next((t["scale"] for t in transforms if t.get("type") == "scale"), [1.0] * len(ngff))
    units = {str(a["name"]).lower(): a.get("unit", "") for a in entry["axes"] if isinstance(a, dict) and a.get("unit")}
    scale = PhysicalScale({a: float(s) for a, s in zip(ngff, sizes, strict=False) if a != "c"}, units)
    # ours: channels last (colour as (..., Y, X, 3)); a single channel is dropped
    ours = [a for a in ngff if a != "c"] + (["c"] if "c" in ngff else [])
    order = tuple(ngff.index(a) for a in ours)
    levels = [da.transpose(da.from_zarr(a), order) for a in arrays]
    axes = "".join(ours)
    if "c" in axes and levels[0].shape[-1] == 1:
        levels, axes = [level[..., 0] for level in levels], axes[:-1]
    name = str(entry.get("name") or _stem(p))
    return OmeZarrImage(levels, axes, scale, name)
