"""What every method shares: input checks, whole-or-tiled prediction, saliency, metadata, loading.

A method module (``denoise``, ...) defines its config, how its networks are built and how it
trains; prediction of a fully convolutional generator is the same for all of them and lives
here. Prediction never changes its input and maps results back to the input's range and
dtype (restoration) or returns float32 in [0, 1] (translation).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from napari_vesselgan import InvalidInput, __version__
from napari_vesselgan.data.intensity import IntensityRange, intensity_range
from napari_vesselgan.engine.checkpoint import CheckpointError, load_checkpoint, load_network
from napari_vesselgan.analysis.gradient_saliency import gradient_saliency
from napari_vesselgan.engine.device import prepare_backend, resolve_device, seed_everything
from napari_vesselgan.engine.streaming import Unsupported, predict_streamed
from napari_vesselgan.engine.tiling import predict_tiled, predict_whole, round_up
from napari_vesselgan.methods.config import TrainingConfig
from napari_vesselgan.methods.options import LayerKind, NoOptions, PredictOptions, TrainingSource

if TYPE_CHECKING:
    from napari_vesselgan.methods.request import PredictionRequest

ProgressFn = Callable[[int, int], None]
SYNTHETIC = "synthetic"
#: Offset between the patch-sampling seeds of a run that resumes at step ``start`` (a prime).
RESUME_SEED_STRIDE = 7919
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_CPU_BUDGET_MB = 2048
#: Largest automatic tile: streamed tiles hold a few activations of one window at a time, and at
#: 1024 px the halo of the default generators (72 px) adds 30% pixels; benchmarks/bench_tiling.py.
MAX_TILE = 1024


def memory_budget_bytes(device: torch.device) -> int:
    """Bytes of activations prediction may use at once: VESSELGAN_MEMORY_MB, or half the free GPU memory."""
    if "VESSELGAN_MEMORY_MB" in os.environ:
        return int(float(os.environ["VESSELGAN_MEMORY_MB"]) * 2**20)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 2
    return DEFAULT_CPU_BUDGET_MB * 2**20


def as_numeric(image: Any) -> Any:
    """Bool images (a mask, a thresholded image) as uint8 0/1, which every method takes; others as they are."""
    if hasattr(image, "dtype") and np.dtype(image.dtype) == bool:
        return image.view(np.uint8) if isinstance(image, np.ndarray) else image.astype(np.uint8)
    return image


def check_image(image: Any, *, channels: int) -> None:
    """Refuse what the networks cannot take, with a message a user can act on."""
    if not hasattr(image, "shape") or not hasattr(image, "dtype"):
        raise TypeError(f"expected a numpy or dask array, got {type(image).__name__}")
    dtype = np.dtype(image.dtype)
    if dtype == bool or not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):  # see as_numeric
        raise InvalidInput(f"images of dtype {dtype} are not supported; use integer or float images")
    if 0 in image.shape:
        raise InvalidInput(f"the image is empty (shape {tuple(image.shape)})")
    if channels == 1:
        if image.ndim < 2:
            raise InvalidInput(f"expected a 2-D image (Y, X) or a stack (..., Y, X), got shape {tuple(image.shape)}")
        if image.ndim == 3 and image.shape[-1] in (3, 4) and image.shape[0] > 4:
            raise InvalidInput(
                f"this method takes single-channel (grey) images; got an RGB/RGBA image of shape {tuple(image.shape)}. "
                "Convert it to grey or pick one channel first")
    else:
        if image.ndim < 3 or image.shape[-1] != channels:
            raise InvalidInput(f"expected an image of shape (Y, X, {channels}), got {tuple(image.shape)}")
    if min(image.shape[-2:] if channels == 1 else image.shape[-3:-1]) < 4:
        raise InvalidInput(f"the image is too small ({tuple(image.shape)}); at least 4x4 pixels are needed")


@dataclass(frozen=True)
class TrainingRun:
    """What every training run settles first (``Method.begin_training``): the config, the device,
    the run folder, the sources (``"synthetic"`` or the user's, one per declared source) and the
    provenance every checkpoint records."""

    config: TrainingConfig
    device: torch.device
    run_dir: Path
    sources: tuple[Any, ...]
    provenance: dict[str, Any]

    @property
    def synthetic(self) -> bool:
        """Whether any source is the synthetic generator."""
        return any(is_synthetic(source) for source in self.sources)

    def batch_seed(self, start: int, offset: int = 0) -> int:
        """The patch sampler's seed for a run (re)starting at step ``start``."""
        return self.config.seed + offset + RESUME_SEED_STRIDE * start


def default_run_dir(method: str, root: str | os.PathLike = "runs") -> Path:
    """``<root>/<method>-<date-time>``: a new folder for a new run."""
    return Path(root) / f"{method}-{time.strftime('%Y%m%d-%H%M%S')}"


def is_synthetic(source: Any) -> bool:
    """Whether a training source means the synthetic generator."""
    return isinstance(source, str) and source == SYNTHETIC


class Method:
    """A trained generator with its config and what the front ends need to know about it.

    Subclasses set the class attributes (the registry's declarations) and ``build_generator``;
    the command line and the widgets read the declarations, never the method's name.
    """

    name: ClassVar[str]
    kind: ClassVar[Literal["restoration", "translation"]]
    config_class: ClassVar[type[TrainingConfig]]
    in_channels: ClassVar[int] = 1
    out_channels: ClassVar[int] = 1
    scale: ClassVar[int] = 1
    #: One line for help texts and the docks.
    summary: ClassVar[str] = ""
    #: What the docks' status says while it predicts ("Denoising").
    verb: ClassVar[str] = "Predicting"
    #: What prediction takes: grey images (and stacks of them), RGB photos, or label layers (masks).
    input_kind: ClassVar[LayerKind] = "grey"
    #: What it gives per input: an image, or a (T, Y, X) video.
    output_kind: ClassVar[Literal["image", "video"]] = "image"
    #: The method's own prediction options (superres's scale, fundus2video's frames).
    options_class: ClassVar[type[PredictOptions]] = NoOptions
    #: Saliency maps it offers (the first is the default): "gradient" (Method.saliency) and others.
    saliency_kinds: ClassVar[tuple[str, ...]] = ("gradient",)
    #: What ``train`` takes, one source each (the command line's flags, the dock's pickers).
    training_sources: ClassVar[tuple[TrainingSource, ...]] = (
        TrainingSource("domain_a", "Domain A", "folder or image of domain A"),
        TrainingSource("domain_b", "Domain B", "folder or image of domain B"),
    )
    #: Its measured evaluation: a module of ``napari_vesselgan.evaluation`` (None: none).
    evaluation: ClassVar[str | None] = None

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
        """From a checkpoint of ours (None: the bundled default weights) or a BioImage.io package we exported."""
        path = Path(weights) if weights is not None else cls.default_weights()
        from napari_vesselgan.export.model_package import is_model_package, load_packaged_method

        if weights is not None and path.is_file() and is_model_package(path):
            return load_packaged_method(path, cls, device)
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
        """None (whole image) when it fits the memory budget, else the largest power-of-two tile up to
        ``MAX_TILE`` that does."""
        budget = memory_budget_bytes(self.device)
        if height * width * self.bytes_per_pixel() <= budget:
            return None
        halo = self.receptive_halo()
        tile = MAX_TILE
        while tile > 64 and (tile + 2 * halo) ** 2 * self.bytes_per_pixel() > budget:
            tile //= 2
        return tile

    def predict(self, image: Any, *, tile: int | None = None, progress: ProgressFn | None = None,
                precision: str = "fp32", halo: int | None = None) -> np.ndarray:
        """Run the generator on a 2-D image or each plane of a stack (numpy or dask); see docs/design.md.
        Bool images count as 0/1 (uint8)."""
        image = as_numeric(image)
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

    def predict_request(self, image: Any, request: PredictionRequest, progress: ProgressFn | None = None) -> np.ndarray:
        """``predict`` with the settings and the method's own options of ``request``."""
        return self.predict(image, progress=progress, **request.predict_kwargs())

    def saliency_of(self, kind: str, image: np.ndarray, output: np.ndarray) -> np.ndarray:
        """The saliency map of ``kind`` (one of ``saliency_kinds``) for an input and its result."""
        if kind == "gradient" and kind in self.saliency_kinds:
            return self.saliency(np.asarray(image))
        raise InvalidInput(f"{self.name} offers no {kind!r} saliency map")

    def predict_file(self, source: Path, target: Path, request: PredictionRequest) -> str:
        """Read ``source``, predict, write ``target`` (and a saliency map beside it); one line to print."""
        from napari_vesselgan.io import read_image, write_image

        image = read_image(source)
        started = time.perf_counter()
        result = self.predict_request(image, request)
        write_image(target, result)
        height, width = image.shape[-3:-1] if self.in_channels > 1 else image.shape[-2:]
        line = f"{source} -> {target} ({width}x{height}, {time.perf_counter() - started:.2f} s)"
        if request.saliency:
            saliency_path = target.with_name(target.stem + "_saliency.tif")
            write_image(saliency_path, self.saliency_of(request.saliency, image, result))
            line += f"\nsaliency -> {saliency_path}"
        return line

    def predict_folder(self, source: Path, target: Path, request: PredictionRequest,
                       progress: ProgressFn | None = None) -> Iterator[str]:
        """Each image of folder ``source`` -> ``target/<stem>.tif``; one line per file, as it is written."""
        from napari_vesselgan.data.sources import image_files

        files = image_files(source)
        for index, path in enumerate(files):
            yield self.predict_file(path, target / (path.stem + ".tif"), request)
            if progress is not None:
                progress(index + 1, len(files))

    def _predict_plane(self, plane: Any, rng: IntensityRange, *, tile: int | None, progress: ProgressFn | None,
                       precision: str, halo: int | None, out: Any = None) -> np.ndarray | None:
        """One plane's result; with ``out`` (an array of the result's shape and dtype, e.g. zarr) it is
        written there row of tiles by row of tiles instead, and None is returned."""
        height, width = plane.shape[:2] if self.in_channels > 1 else plane.shape[-2:]
        chw_of = (lambda block: np.moveaxis(block, -1, 0)) if self.in_channels > 1 else (lambda block: block[None])

        def read(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
            return rng.to_network(chw_of(np.asarray(plane[y0:y1, x0:x1])))

        sink = None if out is None else _FinishingSink(self, out, rng)
        result = self.run_generator(read, (self.in_channels, height, width), tile=tile, progress=progress,
                                    precision=precision, halo=halo, out=sink)
        return None if sink is not None else self.finish_output(result, rng)

    def run_generator(self, read: Callable[[int, int, int, int], np.ndarray], shape: tuple[int, int, int], *,
                      tile: int | None, precision: str, halo: int | None,
                      progress: ProgressFn | None = None, out: Any = None) -> Any:
        """The generator's output for a (C, H, W) network input that ``read(y0, y1, x0, x1)`` returns
        window by window: whole when it fits the memory budget (or ``tile`` covers it), else tiled
        (``engine.streaming``: exact, whole-image norm statistics, each layer once per tile).
        ``out``: an array the output is written into row of tiles by row of tiles (for images larger
        than memory; ``engine.tiling.predict_tiled``)."""
        _, height, width = shape
        tile = tile if tile is not None else self.choose_tile(height, width)
        if tile is None or (tile >= height and tile >= width):
            result = predict_whole(self.generator, read(0, height, 0, width), stride=self.stride, device=self.device,
                                   precision=precision, scale=self.scale)
            if progress:
                progress(1, 1)
            if out is None:
                return result
            out[:, : result.shape[1], : result.shape[2]] = result
            return out
        options = dict(tile=tile, halo=self.receptive_halo() if halo is None else halo, stride=self.stride,
                       out_channels=self.out_channels, device=self.device, precision=precision, scale=self.scale,
                       progress=progress)
        if out is not None:  # written row by row into an array larger than memory (engine.tiling)
            return predict_tiled(self.generator, read, shape, out=out, **options)
        try:  # every layer once per tile; window states beyond an eighth of the budget go to a scratch folder
            return predict_streamed(self.generator, read, shape, memory_budget=memory_budget_bytes(self.device) // 8,
                                    scratch=os.environ.get("VESSELGAN_SCRATCH"), **options)
        except Unsupported:  # a network of unknown structure: one pass per norm layer (engine.tiling)
            return predict_tiled(self.generator, read, shape, **options)

    def predict_into(self, image: Any, out: Any, *, tile: int | None = None, progress: ProgressFn | None = None,
                     precision: str = "fp32", halo: int | None = None, scale: int = 1) -> Any:
        """``predict`` for images larger than memory: read ``image`` (dask, zarr, memory-mapped) window
        by window and write the result into ``out`` (e.g. a zarr array of the result's shape and dtype)
        row of tiles by row of tiles. When the image does not fit the memory budget (or ``tile``
        says so) neither is ever held whole. Returns ``out``.

        For methods whose result is a pixel-wise function of the network's output (grey image in,
        image of the same size out; see :meth:`streams`); the values equal ``predict``'s.
        """
        if not self.streams(scale):
            raise InvalidInput(f"{self.name} predicts whole images only; it cannot stream a large one tile by tile")
        check_image(image, channels=self.in_channels)
        if not isinstance(image, np.ndarray) and not hasattr(image, "dask"):  # zarr, h5py...: through dask
            import dask.array as da

            image = da.from_array(image, chunks=getattr(image, "chunks", "auto"))
        if self.input_kind == "labels":  # masks: any non-zero pixel is a vessel, as predict says
            image = image != 0
            image = image.astype(np.float32)
        rng = intensity_range(image)
        leading = image.shape[:-2]
        for index, plane_index in enumerate(np.ndindex(*leading)):
            report = None
            if progress is not None:
                count = int(np.prod(leading)) if leading else 1
                report = lambda done, total, i=index: progress(i * total + done, total * count)  # noqa: E731
            plane = image[plane_index] if plane_index else image
            target = _PlaneOf(out, plane_index) if plane_index else out
            self._predict_plane(plane, rng, tile=tile, progress=report, precision=precision, halo=halo, out=target)
        return out

    @classmethod
    def streams(cls, scale: int = 1) -> bool:
        """Whether :meth:`predict_into` serves this method: grey image in, image out, each output
        pixel from the network alone (no whole-image step after it), at the input's size. The grey
        methods (denoise, superres at scale 1, mask2nir) do; colour photos (fundus2ffa masks its
        result by the photo's field of view) and videos do not."""
        return cls.in_channels == 1 and cls.output_kind == "image" and scale == 1

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
        image = as_numeric(image)
        check_image(image, channels=self.in_channels)
        if image.ndim != (2 if self.in_channels == 1 else 3):
            raise InvalidInput("saliency is computed for a single 2-D image, not a stack")
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

    # ----- training -----------------------------------------------------------------------------
    def train(self, dataset_or_dirs: Any, config: TrainingConfig | None = None, *, callbacks=(),
              run_dir: str | os.PathLike | None = None) -> Path:
        raise NotImplementedError(f"{self.name} cannot be trained")

    def begin_training(self, dataset_or_dirs: Any, config: TrainingConfig | None,
                       run_dir: str | os.PathLike | None, device: str | None) -> TrainingRun:
        """The prologue of every ``train``: the config (this method's when None), seeds, the device,
        the run folder (``runs/<method>-<time>`` by default) and one source per declared source.
        Under ``torchrun``: joins the process group, this rank's device, rank 0's run folder."""
        from napari_vesselgan.engine import distributed

        config = config or self.config
        seed_everything(config.seed)
        group, rank_device = distributed.init_from_env(device or self.device or "auto")
        torch_device = resolve_device(device or "auto") if device or self.device is None else self.device
        torch_device = rank_device or torch_device
        run_dir = group.agree(Path(run_dir) if run_dir is not None else default_run_dir(self.name))
        count = len(self.training_sources)
        if count == 1 or is_synthetic(dataset_or_dirs):
            sources: tuple[Any, ...] = (dataset_or_dirs,) * count
        else:
            sources = tuple(dataset_or_dirs)
            if len(sources) != count:
                labels = ", ".join(source.label for source in self.training_sources)
                raise InvalidInput(f"{self.name} trains on {count} sources: ({labels})")
        provenance = {"napari_vesselgan": __version__, "device": str(torch_device)}
        if group.active:
            provenance["processes"] = group.world_size  # torchrun data-parallel (the result does not depend on it)
        return TrainingRun(config, torch_device, run_dir, sources, provenance)

    @classmethod
    def start_from(cls, generator: nn.Module, weights: str | os.PathLike) -> str:
        """Load the generator of ``weights`` (``"bundled"``: this method's bundled default) into
        ``generator``, to fine-tune from it; the architectures must match. Returns the source's
        name for the provenance."""
        source = cls.default_weights() if str(weights) == "bundled" else Path(weights)
        checkpoint = load_checkpoint(source, expected_method=cls.name)
        key = "generator" if "generator" in checkpoint.networks else cls.generator_key_in_training_checkpoint()
        if key not in checkpoint.networks:
            raise CheckpointError(f"{source}: no generator weights in this checkpoint")
        load_network(generator, {k: v.float() for k, v in checkpoint.networks[key].items()},
                     name=f"{cls.name} generator")
        return "bundled weights" if str(weights) == "bundled" else str(source)

    def finish_training(self, run: TrainingRun, weights: Path, generator: nn.Module) -> Path:
        """Predict with the newly trained generator from now on; return the weights."""
        self.config, self.weights = run.config, weights
        self.generator = generator.eval()
        return weights


class _FinishingSink:
    """``out`` seen as the network's (C, H, W) output: each block written to it is mapped back to
    the result's range and layout (``Method.finish_output``) first."""

    def __init__(self, method: Method, out: Any, rng: IntensityRange):
        self.method, self.out, self.rng = method, out, rng

    def __setitem__(self, key: tuple[slice, slice, slice], block: np.ndarray) -> None:
        self.out[key[1:]] = self.method.finish_output(block, self.rng)


class _PlaneOf:
    """One plane of a stacked ``out`` (``out[index]``) as a writeable array, without reading it."""

    def __init__(self, out: Any, index: tuple[int, ...]):
        self.out, self.index = out, index

    def __setitem__(self, key: tuple[slice, ...], block: np.ndarray) -> None:
        self.out[(*self.index, *key)] = block
