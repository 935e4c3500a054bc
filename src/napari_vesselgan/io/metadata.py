"""Physical pixel sizes: read from OME-TIFF / ImageJ / TIFF resolution tags, kept through
napari layers, written back to OME-TIFF, TIFF and OME-Zarr.

A :class:`PhysicalScale` holds, per axis letter (``t``, ``z``, ``y``, ``x``), the size of one
pixel (or the time between frames) and its unit, named as OME-NGFF names them
("micrometer", "second"). Axes it does not know are 1 and unit-less.

Where the sizes come from in a TIFF, first found wins:

1. OME-XML (``PhysicalSizeX/Y/Z`` with their units, ``TimeIncrement``), what microscopes,
   Bio-Formats and this package write;
2. ImageJ's description (``unit=micron``, ``spacing``, ``finterval``) with the resolution tags,
   what Fiji writes;
3. resolution tags in pixels per centimetre. Resolution in pixels per inch (72 or 300 dpi from
   desktop software) is a print size, not a physical one, and is ignored.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PhysicalScale", "ngff_unit", "ome_unit", "read_tiff_scale"]

#: OME / ImageJ unit symbols -> OME-NGFF unit names.
_NGFF_UNITS = {
    "µm": "micrometer", "um": "micrometer", "micron": "micrometer", "microns": "micrometer", "μm": "micrometer",
    "micrometer": "micrometer", "nm": "nanometer", "nanometer": "nanometer", "mm": "millimeter",
    "millimeter": "millimeter", "cm": "centimeter", "centimeter": "centimeter", "m": "meter", "meter": "meter",
    "å": "angstrom", "angstrom": "angstrom", "pixel": "", "px": "", "s": "second", "sec": "second",
    "second": "second", "ms": "millisecond", "millisecond": "millisecond", "min": "minute", "minute": "minute",
    "h": "hour", "hour": "hour",
}
#: OME-NGFF unit names -> OME-XML unit symbols.
_OME_UNITS = {"micrometer": "µm", "nanometer": "nm", "millimeter": "mm", "centimeter": "cm", "meter": "m",
              "angstrom": "Å", "second": "s", "millisecond": "ms", "minute": "min", "hour": "h"}
_SPACE = ("z", "y", "x")


def ngff_unit(unit: Any) -> str:
    """An OME-NGFF unit name for ``unit`` (a symbol, a name, a pint unit); "" when unknown or pixels."""
    text = str(unit or "").strip()
    return _NGFF_UNITS.get(text.lower(), _NGFF_UNITS.get(text, ""))


def ome_unit(unit: str) -> str | None:
    """The OME-XML symbol of an OME-NGFF unit name (None when OME has none)."""
    return _OME_UNITS.get(unit)


@dataclass(frozen=True)
class PhysicalScale:
    """Pixel size (and frame interval) per axis letter, with OME-NGFF unit names."""

    sizes: Mapping[str, float] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(not math.isclose(v, 1.0) or self.units.get(k) for k, v in self.sizes.items())

    def size(self, axis: str) -> float:
        return float(self.sizes.get(axis.lower(), 1.0))

    def unit(self, axis: str) -> str:
        return self.units.get(axis.lower(), "")

    def for_axes(self, axes: str) -> tuple[float, ...]:
        """Sizes in the order of ``axes`` (e.g. ``"tyx"``); channel axes (``c``, ``s``) are 1."""
        return tuple(1.0 if a.lower() in "cs" else self.size(a) for a in axes)

    def units_for(self, axes: str) -> tuple[str, ...]:
        return tuple("" if a.lower() in "cs" else self.unit(a) for a in axes)

    def zoomed(self, factor: float) -> PhysicalScale:
        """The scale of an image ``factor`` times larger along Y and X (superres x4: pixels 4x smaller)."""
        sizes = {k: (v / factor if k in ("y", "x") else v) for k, v in self.sizes.items()}
        return PhysicalScale(sizes, dict(self.units))

    @classmethod
    def from_layer(cls, scale: Sequence[float] | None, units: Sequence[Any] | None,
                   axes: str) -> PhysicalScale:
        """From a napari layer's ``scale`` and ``units`` over its axes (``"yx"``, ``"tyx"``, ...)."""
        if scale is None:
            return cls()
        units = list(units) if units is not None else [""] * len(scale)
        sizes, names = {}, {}
        for axis, size, unit in zip(axes.lower(), scale, units, strict=False):
            if axis in "cs":
                continue
            sizes[axis] = float(size)
            if ngff_unit(unit):
                names[axis] = ngff_unit(unit)
        return cls(sizes, names)

    def ome_tiff_metadata(self) -> dict[str, Any]:
        """tifffile's OME metadata keys (``PhysicalSizeX``, ``PhysicalSizeXUnit``, ``TimeIncrement``...)."""
        meta: dict[str, Any] = {}
        for axis in _SPACE:
            if axis in self.sizes:
                meta[f"PhysicalSize{axis.upper()}"] = self.size(axis)
                if ome_unit(self.unit(axis)):
                    meta[f"PhysicalSize{axis.upper()}Unit"] = ome_unit(self.unit(axis))
        if "t" in self.sizes and not math.isclose(self.size("t"), 1.0):
            meta["TimeIncrement"] = self.size("t")
            if ome_unit(self.unit("t")):
                meta["TimeIncrementUnit"] = ome_unit(self.unit("t"))
        return meta

    def tiff_resolution(self) -> dict[str, Any]:
        """tifffile's ``resolution`` / ``resolutionunit`` for Y and X in pixels per centimetre
        (a plain TIFF's only physical unit); empty when X and Y have no length unit."""
        to_cm = {"nanometer": 1e-7, "micrometer": 1e-4, "millimeter": 0.1, "centimeter": 1.0, "meter": 100.0}
        if self.unit("x") not in to_cm or self.unit("y") not in to_cm:
            return {}
        return {"resolution": (1.0 / (self.size("x") * to_cm[self.unit("x")]),
                               1.0 / (self.size("y") * to_cm[self.unit("y")])),
                "resolutionunit": "CENTIMETER"}


def _ome_scale(ome_xml: str) -> PhysicalScale:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(ome_xml)
    pixels = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return PhysicalScale()
    sizes, units = {}, {}
    for axis in _SPACE:
        value = pixels.get(f"PhysicalSize{axis.upper()}")
        if value is not None:
            sizes[axis] = float(value)
            units[axis] = ngff_unit(pixels.get(f"PhysicalSize{axis.upper()}Unit", "µm")) or "micrometer"
    if pixels.get("TimeIncrement") is not None:
        sizes["t"] = float(pixels.get("TimeIncrement"))
        units["t"] = ngff_unit(pixels.get("TimeIncrementUnit", "s")) or "second"
    return PhysicalScale(sizes, units)


def _resolution_sizes(page: Any, unit_name: str) -> dict[str, float]:
    resolution = getattr(page, "resolution", None)
    if not resolution or not all(resolution):
        return {}
    return {"x": 1.0 / float(resolution[0]), "y": 1.0 / float(resolution[1])} if unit_name else {}


def _imagej_scale(tif: Any) -> PhysicalScale:
    meta = tif.imagej_metadata or {}
    unit = ngff_unit(meta.get("unit", ""))
    page = tif.pages[0]
    sizes = _resolution_sizes(page, unit)
    units = {axis: unit for axis in sizes}
    if "spacing" in meta and unit:
        sizes["z"], units["z"] = float(meta["spacing"]), unit
    if "finterval" in meta:
        sizes["t"], units["t"] = float(meta["finterval"]), "second"
    return PhysicalScale(sizes, units)


def _tag_scale(tif: Any) -> PhysicalScale:
    import tifffile

    page = tif.pages[0]
    if getattr(page, "resolutionunit", None) != tifffile.RESUNIT.CENTIMETER:
        return PhysicalScale()
    sizes = {axis: size * 1e4 for axis, size in _resolution_sizes(page, "cm").items()}  # cm -> micrometres
    return PhysicalScale(sizes, {axis: "micrometer" for axis in sizes})


def tiff_scale(tif: Any) -> PhysicalScale:
    """The physical scale of an open ``tifffile.TiffFile`` (see the module docstring)."""
    if tif.is_ome and tif.ome_metadata:
        scale = _ome_scale(tif.ome_metadata)
        if scale:
            return scale
    if tif.is_imagej:
        scale = _imagej_scale(tif)
        if scale:
            return scale
    return _tag_scale(tif)


def read_tiff_scale(path: str | os.PathLike) -> PhysicalScale:
    """The physical scale of a TIFF file; an empty scale when it has none or cannot be read."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return tiff_scale(tif)
    except Exception:  # the image itself was read (or refused) elsewhere; its scale is a courtesy
        return PhysicalScale()
