"""npe2 reader and writer contributions (named in napari.yaml). napari itself is never imported.

Reader: one file at a time (lists and folders are left to other readers). Images become
``"image"`` layers (``rgb=True`` for colour), binary vessel masks (see
:func:`napari_vesselgan.io.readers.is_binary_mask`) ``"labels"`` layers, videos and 3-D TIFF
stacks a series along their first axis. The layer is named after the file and its metadata
record the source path.

Writers follow npe2's single-layer signature ``writer(path, data, meta) -> list[str]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .readers import SUPPORTED_SUFFIXES, VIDEO_SUFFIXES, is_rgb, read_any, suffix_of
from .writers import write_tiff
from .writers import write_video as _write_video

__all__ = ["get_reader", "read_layers", "write_image", "write_labels", "write_video"]

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
    p = Path(path)
    data, layer_type = read_any(p)
    metadata: dict[str, Any] = {"source": str(p.resolve())}
    kwargs: dict[str, Any] = {"name": _layer_name(p), "metadata": metadata}
    if layer_type == "image" and is_rgb(data):
        kwargs["rgb"] = True
    layer_ndim = data.ndim - (1 if kwargs.get("rgb") else 0)
    if layer_ndim > 2:  # a series along the first axis: time for videos and most stacks
        leading = ("t", "z") if layer_ndim == 4 else (_leading_axis(p),)
        kwargs["axis_labels"] = (*leading, "y", "x")
        metadata["axes"] = "".join(kwargs["axis_labels"]).upper()
    return [(data, kwargs, layer_type)]


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
    if isinstance(data, (list, tuple)) and data and hasattr(data[0], "shape"):
        return data[0]
    return data


def _description(meta: dict[str, Any]) -> dict[str, Any]:
    name = meta.get("name")
    return {"name": str(name)} if name else {}


def write_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 writer for one image layer: TIFF, dtype kept, RGB stored as RGB."""
    return [str(write_tiff(path, _first_level(data), metadata=_description(meta)))]


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
