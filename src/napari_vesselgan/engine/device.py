"""Device choice, mixed precision and seeding: one place that decides where and how tensors run."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

from napari_vesselgan import InvalidInput

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; an explicit name must be available."""
    if isinstance(device, torch.device):
        return device
    name = str(device).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInput("device 'cuda' was asked for, but torch sees no CUDA GPU here (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InvalidInput("device 'mps' was asked for, but it is not available here (use cpu or auto)")
    if name.split(":")[0] not in DEVICE_CHOICES:
        raise InvalidInput(f"unknown device {device!r}: choose one of {', '.join(DEVICE_CHOICES)}")
    return torch.device(name)


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision``: None means exact fp32.

    ``auto`` is bf16 (or fp16 where bf16 is unsupported) on CUDA and fp32 elsewhere;
    ``bf16`` may also be asked for on a CPU, where it is faster on CPUs with bf16 units.
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if precision != "auto":
        raise InvalidInput(f"unknown precision {precision!r}: use auto, fp32, bf16 or fp16")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


@contextlib.contextmanager
def autocast(device: torch.device, precision: str = "auto") -> Iterator[None]:
    """Autocast for ``precision`` on ``device``, or nothing at all for fp32."""
    dtype = autocast_dtype(device, precision)
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def prepare_backend(device: torch.device) -> None:
    """Per-device speed switches that do not change results beyond float rounding."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch so that CPU runs repeat exactly; return a numpy Generator."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    return np.random.default_rng(seed)
