"""The methods: ``available()`` names them, ``load(name)`` returns one ready to predict or train."""

from __future__ import annotations

import importlib
import os

import torch

from napari_vesselgan.methods.base import Method

# name -> "module:class"; each method's module is imported only when it is loaded.
_REGISTRY: dict[str, str] = {
    "denoise": "napari_vesselgan.methods.denoise:DenoiseMethod",
    "mask2nir": "napari_vesselgan.methods.mask2nir:Mask2NirMethod",
    "superres": "napari_vesselgan.methods.superres:SuperResMethod",
    "fundus2ffa": "napari_vesselgan.methods.fundus2ffa:Fundus2FFAMethod",
    "fundus2video": "napari_vesselgan.methods.fundus2video:Fundus2VideoMethod",
}


def available() -> list[str]:
    """Names of the methods this version provides."""
    return sorted(_REGISTRY)


def method_class(name: str) -> type[Method]:
    """The Method subclass registered under ``name``."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(available())}")
    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def load(name: str, weights: str | os.PathLike | None = None, device: str | torch.device = "auto") -> Method:
    """Method ``name`` with the bundled default weights (``weights=None``) or a checkpoint of ours."""
    return method_class(name).load(weights, device=device)


__all__ = ["Method", "available", "load", "method_class"]

