"""npe2 reader and writer contributions (named in napari.yaml). napari itself is never imported.

Reader: one file at a time (lists and folders are left to other readers). Images become
``"image"`` layers (``rgb=True`` for colour), binary vessel masks (see
:func:`napari_vesselgan.io.readers.is_binary_mask`) ``"labels"`` layers, videos and 3-D TIFF
stacks a series along their first axis. The layer is named after the file and its metadata
record the source path. Physical pixel sizes (OME-TIFF, ImageJ, TIFF resolution in centimetres,
OME-Zarr) become the layer's ``scale`` and ``units``. A TIFF larger than a quarter of the
available memory, and every OME-Zarr folder (``*.zarr``, :func:`get_zarr_reader`), open lazily:
the layer holds a dask array (the resolution levels, when there are several) that napari reads
chunk by chunk as it draws.

Writers follow npe2's single-layer signature ``writer(path, data, meta) -> list[str]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .metadata import PhysicalScale, read_tiff_scale
from .readers import SUPPORTED_SUFFIXES, TIFF_SUFFIXES, VIDEO_SUFFIXES, is_rgb, read_any, suffix_of
from .writers import write_tiff
from .writers import write_video as _write_video

__all__ = ["get_reader", "get_zarr_reader", "read_layers", "read_zarr_layers", "write_image", "write_labels",
           "write_ome_zarr_image", "write_video"]

LayerDataTuple = tuple[Any, dict[str, Any], str]
PathLike = str | os.PathLike


def _layer_name(path: Path) -> str:
    """The file name without its extension(s): ``vessels.ome.tif`` -> ``vessels``."""
    name = path.name
    for ending in (".ome.tiff", ".ome.tif"):
        if name.lower().endswith(ending):
            return name[: -len(ending)]
    return path.stem


def read_layers(path: PathLike) -> list[LayerDataTuple]:
    """Read one file into a napari LayerDataTuple list (raises ImageReadError on failure)."""
    from .lazy import open_tiff_lazy, opens_lazily

    p = Path(path)
    if p.is_file() and opens_lazily(p):
        opened = open_tiff_lazy(p)
        data, layer_type, scale = opened.data, "image", opened.scale
        levels = [data, *opened.levels]
    else:
        data, layer_type = read_any(p)
        scale = read_tiff_scale(p) if suffix_of(p) in TIFF_SUFFIXES else PhysicalScale()
        levels = [data]
    metadata: dict[str, Any] = {"source": str(p.resolve())}
    kwargs: dict[str, Any] = {"name": _layer_name(p), "metadata": metadata}
    if layer_type == "image" and is_rgb(data):
        kwargs["rgb"] = True
    layer_ndim = data.ndim - (1 if kwargs.get("rgb") else 0)
    axes = ("y", "x")
    if layer_ndim > 2:  # a series along the first axis: time for videos and most stacks
        leading = ("t", "z") if layer_ndim == 4 else (_leading_axis(p),)
        axes = (*leading, "y", "x")
        kwargs["axis_labels"] = axes
        metadata["axes"] = "".join(axes).upper()
    _put_scale(kwargs, scale, "".join(axes))
    if len(levels) > 1:
        kwargs["multiscale"] = True
        return [(levels, kwargs, layer_type)]
    return [(data, kwargs, layer_type)]


def _put_scale(kwargs: dict[str, Any], scale: PhysicalScale, axes: str) -> None:
    """The layer's ``scale`` and ``units`` from a physical scale over the layer's axes (none: left out)."""
    if not scale:
        return
    kwargs["scale"] = scale.for_axes(axes)
    units = scale.units_for(axes)
    if all(units):
        kwargs["units"] = units
    kwargs["metadata"]["physical_scale"] = {"sizes": dict(scale.sizes), "units": dict(scale.units)}


def get_zarr_reader(path: PathLike | Sequence[PathLike]) -> Callable[[PathLike], list[LayerDataTuple]] | None:
    """npe2 reader hook for OME-Zarr folders (``*.zarr``): a lazy, multiscale image layer."""
    from .ome_zarr import is_ome_zarr

    if isinstance(path, (list, tuple)) or not is_ome_zarr(path):
        return None
    return read_zarr_layers


def read_zarr_layers(path: PathLike) -> list[LayerDataTuple]:
    """One OME-Zarr image as a napari layer: dask levels (multiscale when there are several),
    colour as RGB, the axes as axis labels, the physical scale as scale and units."""
    from .ome_zarr import read_ome_zarr

    p = Path(path)
    image = read_ome_zarr(p)
    rgb = image.axes.endswith("c") and image.data.shape[-1] == 3
    kwargs: dict[str, Any] = {"name": image.name, "metadata": {"source": str(p.resolve()), "axes": image.axes.upper()}}
    layer_axes = image.axes[:-1] if image.axes.endswith("c") else image.axes
    if rgb:
        kwargs["rgb"] = True
    elif image.axes.endswith("c"):  # several channels that are not a colour photo: one layer each
        kwargs["channel_axis"] = len(image.axes) - 1
    kwargs["axis_labels"] = tuple(layer_axes)
    _put_scale(kwargs, image.scale, layer_axes)
    if len(image.levels) > 1:
        kwargs["multiscale"] = True
        return [(list(image.levels), kwargs, "image")]
    return [(image.data, kwargs, "image")]


def _leading_axis(path: Path) -> str:
    """``"z"`` for a TIFF whose own metadata call its first axis Z (ImageJ / OME z-stacks), else ``"t"``."""
    if suffix_of(path) in VIDEO_SUFFIXES:
        return "t"
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            axes = str(tif.series[0].axes)
    except Exception:  # the data were read already; the label is only a courtesy
        return "t"
    return "z" if axes[:1] == "Z" else "t"


def get_reader(path: PathLike | Sequence[PathLike]) -> Callable[[PathLike], list[LayerDataTuple]] | None:
    """npe2 reader hook: a reader function for one supported file, else None."""
    if isinstance(path, (list, tuple)):
        return None
    p = Path(path)
    if p.is_dir() or suffix_of(p) not in SUPPORTED_SUFFIXES:
        return None
    return read_layers


def _first_level(data: Any) -> Any:
    """napari multiscale data are a list of levels; write the full-resolution one."""
    if isinstance(data, Sequence) and len(data) and hasattr(data[0], "shape"):
        return data[0]  # a list of levels, or napari's MultiScaleData (a Sequence)
    return data


def _description(meta: dict[str, Any]) -> dict[str, Any]:
    name = meta.get("name")
    return {"name": str(name)} if name else {}


def _layer_scale(data: Any, meta: dict[str, Any]) -> tuple[PhysicalScale, str]:
    """The layer's physical scale (its ``scale`` and ``units``) and our axes for its data."""
    from .ome_zarr import default_axes

    axes = default_axes(tuple(np.shape(data)))
    layer_axes = axes[:-1] if axes.endswith("c") else axes
    labels = "".join(str(label).lower() for label in meta.get("axis_labels") or ())
    if len(labels) == len(layer_axes) and set(labels) <= set("tzyx") and len(set(labels)) == len(labels):
        layer_axes, axes = labels, labels + axes[len(layer_axes):]  # e.g. a z-stack labelled so
    return PhysicalScale.from_layer(meta.get("scale"), meta.get("units"), layer_axes), axes


def write_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 writer for one image layer: TIFF, dtype kept, RGB stored as RGB, the layer's scale as
    physical pixel sizes (OME ``PhysicalSize*`` for ``.ome.tif``, resolution tags otherwise)."""
    level = _first_level(data)
    scale, _ = _layer_scale(level, meta)
    if not isinstance(level, np.ndarray) and hasattr(level, "dask"):  # lazy: tile by tile, never whole
        from .lazy import write_tiff_tiled

        return [str(write_tiff_tiled(path, level, scale=scale or None))]
    return [str(write_tiff(path, level, metadata=_description(meta), scale=scale or None))]


def write_ome_zarr_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 writer for one image layer as OME-Zarr (chunked, a pyramid when large, scale kept)."""
    from .ome_zarr import write_ome_zarr

    level = _first_level(data)
    scale, axes = _layer_scale(level, meta)
    return [str(write_ome_zarr(path, level, axes=axes, scale=scale, name=meta.get("name")))]


def write_labels(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 writer for one labels layer: TIFF in the smallest unsigned type that holds the labels."""
    a = np.asarray(_first_level(data))
    if a.dtype != bool and np.issubdtype(a.dtype, np.integer) and a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo >= 0:
            a = a.astype(np.uint8 if hi <= 255 else np.uint16 if hi <= 65535 else np.uint32)
    return [str(write_tiff(path, a, metadata=_description(meta)))]


def write_video(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 writer for one image layer with a time axis: MP4 (fps from ``metadata["fps"]``, default 5)."""
    fps = float((meta.get("metadata") or {}).get("fps", 5))
    return [str(_write_video(path, _first_level(data), fps=fps))]
