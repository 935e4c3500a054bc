"""The methods and their registry: ``available()`` names them, ``load(name)`` returns one ready to
predict or train, ``method_class(name)`` gives the class whose declarations the command line and
the widgets read (input and output kinds, prediction options, training sources, presets,
evaluation). ``register`` adds a method from outside this package.
"""

from __future__ import annotations

import importlib
import os

import torch

from napari_vesselgan import InvalidInput
from napari_vesselgan.methods.base import Method

# name -> "module:class" (imported when first asked for) or the class itself (registered at run time)
_REGISTRY: dict[str, str | type[Method]] = {
    "denoise": "napari_vesselgan.methods.denoise:DenoiseMethod",
    "mask2nir": "napari_vesselgan.methods.mask2nir:Mask2NirMethod",
    "superres": "napari_vesselgan.methods.superres:SuperResMethod",
    "fundus2ffa": "napari_vesselgan.methods.fundus2ffa:Fundus2FFAMethod",
    "fundus2video": "napari_vesselgan.methods.fundus2video:Fundus2VideoMethod",
}


def available() -> list[str]:
    """Names of the registered methods."""
    return sorted(_REGISTRY)


def register(method: type[Method] | str, name: str | None = None) -> None:
    """Register a Method subclass (or its ``"module:Class"`` path) under ``name`` (default: its ``name``)."""
    if isinstance(method, str):
        if name is None:
            raise TypeError("registering by 'module:Class' path needs a name")
        _REGISTRY[name] = method
        return
    _REGISTRY[name or method.name] = method


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (tests that register a method of their own)."""
    _REGISTRY.pop(name, None)


def method_class(name: str) -> type[Method]:
    """The Method subclass registered under ``name``."""
    if name not in _REGISTRY:
        raise InvalidInput(f"unknown method {name!r}; available: {', '.join(available())}")
    entry = _REGISTRY[name]
    if isinstance(entry, str):
        module, cls = entry.split(":")
        entry = _REGISTRY[name] = getattr(importlib.import_module(module), cls)
    return entry


def load(name: str, weights: str | os.PathLike | None = None, device: str | torch.device = "auto") -> Method:
    """Method ``name`` with the bundled default weights (``weights=None``) or a checkpoint of ours."""
    return method_class(name).load(weights, device=device)


__all__ = ["Method", "available", "load", "method_class", "register", "unregister"]
