"""What every method shares: input checks, whole-or-tiled prediction, saliency, metadata, loading.

A method module (``denoise``, ...) defines its config, how its networks are built and how it
trains; prediction of a fully convolutional generator is the same for all of them and lives
here. Prediction never changes its input and maps results back to the input's range and
dtype (restoration) or returns float32 in [0, 1] (translation).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from napari_vesselgan import __version__
from napari_vesselgan.data.intensity import IntensityRange, intensity_range
from napari_vesselgan.engine.checkpoint import CheckpointError, load_checkpoint, load_network
from napari_vesselgan.analysis.gradient_saliency import gradient_saliency
from napari_vesselgan.engine.device import prepare_backend, resolve_device
from napari_vesselgan.engine.tiling import predict_tiled, predict_whole, round_up
from napari_vesselgan.methods.config import TrainingConfig

ProgressFn = Callable[[int, int], None]
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_CPU_BUDGET_MB = 2048


def memory_budget_bytes(device: torch.device) -> int:
    """Bytes of activations prediction may use at once: VESSELGAN_MEMORY_MB, or half the free GPU memory."""
    if "VESSELGAN_MEMORY_MB" in os.environ:
        return int(float(os.environ["VESSELGAN_MEMORY_MB"]) * 2**20)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 2
    return DEFAULT_CPU_BUDGET_MB * 2**20


def check_image(image: Any, *, channels: int) -> None:
    """Refuse what the networks cannot take, with a message a user can act on."""
    if not hasattr(image, "shape") or not hasattr(image, "dtype"):
        raise TypeError(f"expected a numpy or dask array, got {type(image).__name__}")
    dtype = np.dtype(image.dtype)
    if dtype == bool or not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise ValueError(f"images of dtype {dtype} are not supported; use integer or float images")
    if 0 in image.shape:
        raise ValueError(f"the image is empty (shape {tuple(image.shape)})")
    if channels == 1:
        if image.ndim < 2:
            raise ValueError(f"expected a 2-D image (Y, X) or a stack (..., Y, X), got shape {tuple(image.shape)}")
        if image.ndim == 3 and image.shape[-1] in (3, 4) and image.shape[0] > 4:
            raise ValueError(
                f"this method takes single-channel (grey) images; got an RGB/RGBA image of shape {tuple(image.shape)}. "
                "Convert it to grey or pick one channel first")
    else:
        if image.ndim < 3 or image.shape[-1] != channels:
            raise ValueError(f"expected an image of shape (Y, X, {channels}), got {tuple(image.shape)}")
    if min(image.shape[-2:] if channels == 1 else image.shape[-3:-1]) < 4:
        raise ValueError(f"the image is too small ({tuple(image.shape)}); at least 4x4 pixels are needed")


class Method:
    """A trained generator with its config; subclasses set the class attributes and ``build``."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "restoration" or "translation"
    config_class: ClassVar[type[TrainingConfig]]
    in_channels: ClassVar[int] = 1
    out_channels: ClassVar[int] = 1
    scale: ClassVar[int] = 1
    #: What ``train`` takes, one label per source (the training widget shows one picker each).
    training_sources: ClassVar[tuple[str, ...]] = ("Domain A", "Domain B")

    def __init__(self, config: TrainingConfig, generator: nn.Module, *, device: str | torch.device = "auto",
                 weights: Path | None = None, provenance: dict[str, Any] | None = None):
        self.config = config
        self.device = resolve_device(device)
        prepare_backend(self.device)
        self.generator = generator.to(self.device).eval()
        self.weights = weights
        self.provenance = provenance or {}

    # ----- building and loading -------------------------------------------------------------
    @classmethod
    def build_generator(cls, config: TrainingConfig) -> nn.Module:
        raise NotImplementedError

    @classmethod
    def default_weights(cls) -> Path:
        return WEIGHTS_DIR / f"{cls.name}.safetensors"

    @classmethod
    def load(cls, weights: str | os.PathLike | None = None, device: str | torch.device = "auto") -> "Method":
        """From a checkpoint of ours (None: the bundled default weights)."""
        path = Path(weights) if weights is not None else cls.default_weights()
        if weights is None and not path.is_file():
            raise CheckpointError(
                f"no bundled weights for {cls.name!r} at {path}; train some with `vesselgan train {cls.name}`")
        checkpoint = load_checkpoint(path, expected_method=cls.name)
        config = cls.config_class(**checkpoint.config)
        generator = cls.build_generator(config)
        key = "generator" if "generator" in checkpoint.networks else cls.generator_key_in_training_checkpoint()
        if key not in checkpoint.networks:
            raise CheckpointError(f"{path}: no generator weights in this checkpoint")
        load_network(generator, checkpoint.networks[key], name=f"{cls.name} generator")
        return cls(config, generator, device=device, weights=path, provenance=checkpoint.provenance)

    @classmethod
    def generator_key_in_training_checkpoint(cls) -> str:
        return "generator"

    @classmethod
    def untrained(cls, config: TrainingConfig | None = None, device: str | torch.device = "auto") -> "Method":
        config = config or cls.config_class()
        return cls(config, cls.build_generator(config), device=device)

    # ----- prediction -------------------------------------------------------------------------
    @property
    def stride(self) -> int:
        return int(getattr(self.generator, "stride", 4))

    def receptive_halo(self) -> int:
        """Halo that makes tiled prediction exact: receptive radius plus half the blend band."""
        radius = int(getattr(self.generator, "receptive_radius", 64))
        return round_up(radius + 8, self.stride)

    def bytes_per_pixel(self) -> int:
        """Peak activation memory of one fp32 forward pass per input pixel (for the tile choice).

        24 x ngf bytes: benchmarks/bench_predict.py measured 350-420 B/px for ngf 16 on the CPU.
        """
        width = int(getattr(self.generator, "ngf", 64))
        return 24 * width * self.scale**2

    def choose_tile(self, height: int, width: int) -> int | None:
        """None (whole image) when it fits the memory budget, else the largest power-of-two tile that does."""
        budget = memory_budget_bytes(self.device)
        if height * width * self.bytes_per_pixel() <= budget:
            return None
        halo = self.receptive_halo()
        tile = 2048
        while tile > 64 and (tile + 2 * halo) ** 2 * self.bytes_per_pixel() > budget:
            tile //= 2
        return tile

    def predict(self, image: Any, *, tile: int | None = None, progress: ProgressFn | None = None,
                precision: str = "fp32", halo: int | None = None) -> np.ndarray:
        """Run the generator on a 2-D image or each plane of a stack (numpy or dask); see DESIGN.md."""
        check_image(image, channels=self.in_channels)
        rng = intensity_range(image)
        planes = list(np.ndindex(*image.shape[: image.ndim - (2 if self.in_channels == 1 else 3)]))
        outputs = []
        for index, plane_index in enumerate(planes):
            plane = image[plane_index] if plane_index else image
            report = None
            if progress is not None:
                report = lambda done, total, i=index: progress(i * total + done, total * len(planes))  # noqa: E731
            outputs.append(self._predict_plane(plane, rng, tile=tile, progress=report, precision=precision, halo=halo))
        result = np.stack(outputs).reshape(*image.shape[: len(planes[0])], *outputs[0].shape) if planes[0] else outputs[0]
        return result

    def _predict_plane(self, plane: Any, rng: IntensityRange, *, tile: int | None, progress: ProgressFn | None,
                       precision: str, halo: int | None) -> np.ndarray:
        height, width = plane.shape[:2] if self.in_channels > 1 else plane.shape[-2:]
        chw_of = (lambda block: np.moveaxis(block, -1, 0)) if self.in_channels > 1 else (lambda block: block[None])

        def read(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
            return rng.to_network(chw_of(np.asarray(plane[y0:y1, x0:x1])))

        out = self.run_generator(read, (self.in_channels, height, width), tile=tile, progress=progress,
                                 precision=precision, halo=halo)
        return self.finish_output(out, rng)

    def run_generator(self, read: Callable[[int, int, int, int], np.ndarray], shape: tuple[int, int, int], *,
                      tile: int | None, precision: str, halo: int | None,
                      progress: ProgressFn | None = None) -> np.ndarray:
        """The generator's output for a (C, H, W) network input that ``read(y0, y1, x0, x1)`` returns
        window by window: whole when it fits the memory budget (or ``tile`` covers it), else tiled."""
        _, height, width = shape
        tile = tile if tile is not None else self.choose_tile(height, width)
        if tile is None or (tile >= height and tile >= width):
            out = predict_whole(self.generator, read(0, height, 0, width), stride=self.stride, device=self.device,
                                precision=precision, scale=self.scale)
            if progress:
                progress(1, 1)
            return out
        return predict_tiled(self.generator, read, shape, tile=tile,
                             halo=self.receptive_halo() if halo is None else halo, stride=self.stride,
                             out_channels=self.out_channels, device=self.device, precision=precision,
                             scale=self.scale, progress=progress)

    def finish_output(self, out: np.ndarray, rng: IntensityRange) -> np.ndarray:
        """Restoration: back to the input's range and dtype; translation: float32 in [0, 1]."""
        out = out[0] if out.shape[0] == 1 else np.moveaxis(out, 0, -1)
        if self.kind == "restoration":
            return rng.from_network(out)
        return np.clip((out + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)

    def saliency(self, image: np.ndarray, *, max_side: int = 1024) -> np.ndarray:
        """Gradient saliency (Simonyan et al. 2014): |d sum(output) / d input|, scaled to [0, 1].

        Shows which input pixels drive the output. Images larger than ``max_side`` are
        analysed at a reduced size and the map is resized back (recorded by the caller).
        """
        check_image(image, channels=self.in_channels)
        if image.ndim != (2 if self.in_channels == 1 else 3):
            raise ValueError("saliency is computed for a single 2-D image, not a stack")
        from skimage.transform import resize

        rng = intensity_range(image)
        plane = np.asarray(image, np.float32)
        height, width = plane.shape[:2]
        factor = max(height, width) / max_side
        if factor > 1:
            plane = resize(plane, (round(height / factor), round(width / factor)), order=1, anti_aliasing=True,
                           preserve_range=True).astype(np.float32)
        chw = rng.to_network(plane[None] if self.in_channels == 1 else np.moveaxis(plane, -1, 0))
        grad = gradient_saliency(self.generator, chw, stride=self.stride, device=self.device)
        if factor > 1:
            grad = resize(grad, (height, width), order=1)
        top = float(np.percentile(grad, 99.5)) or 1.0
        return np.clip(grad / top, 0.0, 1.0).astype(np.float32)

    # ----- provenance for layers --------------------------------------------------------------
    def describe(self, **parameters: Any) -> dict[str, Any]:
        """Metadata for a result layer: method, weights, parameters, version."""
        return {
            "method": self.name,
            "weights": str(self.weights) if self.weights else "untrained",
            "weights_provenance": self.provenance,
            "config": self.config.model_dump(),
            "parameters": parameters,
            "device": str(self.device),
            "napari_vesselgan": __version__,
        }

    def train(self, dataset_or_dirs: Any, config: TrainingConfig | None = None, *, callbacks=(),
              run_dir: str | os.PathLike | None = None) -> Path:
        raise NotImplementedError(f"{self.name} cannot be trained")
