"""Putting results into the viewer: one way for every dock, so a second run replaces its own layer.

A dock's result layer carries ``"napari_vesselgan"`` in its metadata (``Method.describe`` and
the compare maps write it); a later result of the same name replaces that layer's data and
settings instead of adding "name [1]". A user's layer of that name is never touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image

if TYPE_CHECKING:
    import napari

#: Settings that a replaced layer takes from the new result (the others stay as the user set them).
REPLACED_SETTINGS = ("metadata", "contrast_limits", "scale", "translate", "colormap")


def put_layer(viewer: napari.viewer.Viewer, name: str, data: np.ndarray, **kwargs: Any) -> Image:
    """Replace the data of our own earlier result named ``name``, or add a new image layer."""
    if name in viewer.layers:
        layer = viewer.layers[name]
        if isinstance(layer, Image) and "napari_vesselgan" in layer.metadata:
            layer.data = data
            for key in REPLACED_SETTINGS:
                if key in kwargs:
                    setattr(layer, key, kwargs[key])
            return layer
    return viewer.add_image(data, name=name, **kwargs)
