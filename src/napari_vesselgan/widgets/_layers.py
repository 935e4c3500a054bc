"""Putting results into the viewer: one way for every dock.

A dock's result layer carries ``"napari_vesselgan"`` in its metadata (``Method.describe`` and
the compare maps write it). A re-run with the same settings (equal metadata: method, weights,
parameters, source) replaces that layer's data instead of adding "name [1]"; a run with other
settings keeps the earlier result and adds a new layer beside it (napari names it "name [1]"),
so two settings can be compared. A user's layer of that name is never touched. The dock's
status says which happened, with the layer's real name (:func:`placed_text`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image

if TYPE_CHECKING:
    import napari

#: Settings that a replaced layer takes from the new result (the others stay as the user set them).
REPLACED_SETTINGS = ("metadata", "contrast_limits", "scale", "translate", "colormap")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (ValueError, TypeError):  # arrays in the metadata: not worth comparing
        return False


def put_layer(viewer: napari.viewer.Viewer, name: str, data: np.ndarray, **kwargs: Any) -> Image:
    """Replace the data of our own earlier result named ``name`` made with the same settings,
    or add a new image layer."""
    if name in viewer.layers:
        layer = viewer.layers[name]
        if (isinstance(layer, Image) and "napari_vesselgan" in layer.metadata
                and _same(dict(layer.metadata), dict(kwargs.get("metadata") or {}))):
            layer.data = data
            for key in REPLACED_SETTINGS:
                if key in kwargs:
                    setattr(layer, key, kwargs[key])
            return layer
    return viewer.add_image(data, name=name, **kwargs)


def placed_text(layer: Image, existed: bool) -> str:
    """"'name' added" or "'name' replaced" (``existed``: the layer was in the viewer before)."""
    return f"'{layer.name}' {'replaced' if existed else 'added'}"
