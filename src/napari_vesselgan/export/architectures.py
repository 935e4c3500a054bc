"""The networks a BioImage.io package of ours may name, and how a package's network maps to ours.

A package built here names its network as ``import_from`` + ``callable`` + ``kwargs`` (what
bioimageio.core imports to rebuild it). Opening a package, only the classes listed in
:data:`PACKAGE_ARCHITECTURES` are imported: a package naming anything else is refused before any
of it runs. superres's package is 4x: :class:`UpscalingSuperResGenerator` up-samples the
low-resolution image bicubically (torch's kernel) and then runs the ordinary generator, with the
same state dict; fundus2video's is one window step, :class:`WindowStepGenerator`, the same
network with its two inputs (photo, condition) apart.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch
import torch.nn.functional as F

from napari_vesselgan.nn.architecture import architecture_of, keeps_arguments
from napari_vesselgan.nn.pix2pixhd import GlobalGenerator
from napari_vesselgan.nn.rrdb import SuperResGenerator


class UpscalingSuperResGenerator(SuperResGenerator):
    """Low-resolution image (B, C, H, W) -> (B, C, upscale*H, upscale*W): bicubic up-sampling, then
    the superres generator. Its state dict is exactly :class:`SuperResGenerator`'s."""

    @keeps_arguments
    def __init__(self, upscale: int = 4, channels: int = 1, features: int = 32, growth: int = 16, n_blocks: int = 7,
                 *, spectral: bool = True, input_skip: bool = True):
        super().__init__(channels, features, growth, n_blocks, spectral=spectral, input_skip=input_skip)
        self.upscale = int(upscale)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(y, scale_factor=float(self.upscale), mode="bicubic", align_corners=False)
        return super().forward(up)


class WindowStepGenerator(GlobalGenerator):
    """fundus2video's generator as one window step with two inputs: the photo (B, 3, H, W) and the
    condition (B, 3, H, W), both in [-1, 1], -> the next 3 frames. Its state dict is exactly
    :class:`GlobalGenerator`'s (which takes the two concatenated)."""

    def forward(self, photo: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(torch.cat([photo, condition], dim=1))


#: (module, class) a package may name -> the class our methods predict with (and kwargs it drops).
PACKAGE_ARCHITECTURES: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("napari_vesselgan.nn.resnet_generator", "ResnetGenerator"): ("ResnetGenerator", ()),
    ("napari_vesselgan.nn.unet", "UnetGenerator"): ("UnetGenerator", ()),
    ("napari_vesselgan.nn.pix2pixhd", "GlobalGenerator"): ("GlobalGenerator", ()),
    ("napari_vesselgan.nn.rrdb", "SuperResGenerator"): ("SuperResGenerator", ()),
    (__name__, "UpscalingSuperResGenerator"): ("SuperResGenerator", ("upscale",)),
    (__name__, "WindowStepGenerator"): ("GlobalGenerator", ()),
}
_PREDICTION_MODULES = {"ResnetGenerator": "napari_vesselgan.nn.resnet_generator",
                       "UnetGenerator": "napari_vesselgan.nn.unet",
                       "GlobalGenerator": "napari_vesselgan.nn.pix2pixhd",
                       "SuperResGenerator": "napari_vesselgan.nn.rrdb"}


def is_ours(import_from: str, name: str) -> bool:
    """Whether a package's architecture names one of our networks."""
    return (import_from, name) in PACKAGE_ARCHITECTURES


def prediction_architecture(import_from: str, name: str, kwargs: dict[str, Any]) -> tuple[type, dict[str, Any]]:
    """The class our methods predict with and its kwargs, for a package's (our) architecture."""
    class_name, dropped = PACKAGE_ARCHITECTURES[(import_from, name)]
    cls = getattr(importlib.import_module(_PREDICTION_MODULES[class_name]), class_name)
    return cls, {key: value for key, value in kwargs.items() if key not in dropped}


def baked_spectral_norm(generator: torch.nn.Module) -> dict[str, Any]:
    """Kwargs override for a generator whose spectral norm was baked into plain weights (superres
    predicts that way): the package's network has no spectral normalisation and the baked weights."""
    kwargs = architecture_of(generator)[2]
    if kwargs.get("spectral") and not any(hasattr(m, "parametrizations") for m in generator.modules()):
        return {"spectral": False}
    return {}
