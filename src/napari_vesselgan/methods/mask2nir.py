"""`mask2nir`: binary vessel masks -> NIR-II images, attention-guided CycleGAN (docs/methods.md card 1).

Domain A is binary vessel masks, domain B NIR-II fluorescence images; the two are unpaired.
Networks: two ResNet generators (9 residual blocks) and two 70x70 PatchGANs, least-squares
GAN + 10 x cycle L1 + 5 x identity L1 (the CycleGAN part, ``methods.cyclegan``), plus three
feature-network terms on G_AB(mask) only (``losses.adaattn``): 0.01 content, 0.002 global style,
0.001 local (AdaAttN) style, on VGG-19 relu1_1..relu4_1 with the content image = the mask and
the style image = the real NIR-II image of the same unpaired batch.

``lambda_paired`` (0 in the paper, the ``real`` preset's 10) adds an L1 term on registered crops
of (mask, image) pairs, for training data whose masks were extracted from its own images (real
frames through ``analysis.extract_vessel_mask``, synthetic trees with their renders): mask i of
domain A belongs to image i of domain B. The CycleGAN terms still see the two domains unpaired
(independent crops); the L1 ties G_AB(mask) to the image its mask came from, so the vessels the
mask draws stay where they are and at the real frames' brightness.

The VGG-19 weights follow the rules of every pretrained network here (``nn.pretrained``):
``feature_weights=None`` takes torchvision's ImageNet file from torch's hub cache (an error
naming the file when it is missing), a path takes a local file, ``"random"`` trains with a
seeded random VGG-19, deliberately. Setting the three weights to 0 gives the plain CycleGAN.

A mask enters the networks as -1 (background) and 1 (vessel): any non-zero value is a vessel,
so {0, 1}, {0, 255}, bool and label images all work. The output is float32 in [0, 1].
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from napari_vesselgan import InvalidInput
from napari_vesselgan.data.intensity import IntensityRange
from napari_vesselgan.data.patches import paired_batches, prepare_images, unpaired_batches
from napari_vesselgan.data.sources import load_domain
from napari_vesselgan.engine.trainer import Callback, fit
from napari_vesselgan.methods.base import Method, ProgressFn, as_numeric, check_image, is_synthetic
from napari_vesselgan.methods.config import TrainingConfig
from napari_vesselgan.methods.options import LayerKind, PredictOptions, TrainingSource
from napari_vesselgan.methods.cyclegan import CycleGAN, CycleGANConfig
from napari_vesselgan.nn import PatchDiscriminator, ResnetGenerator, init_weights

if TYPE_CHECKING:
    from napari_vesselgan.methods.request import PredictionRequest

FEATURE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
MASK_RANGE = IntensityRange(0.0, 1.0, np.dtype(np.float32))


class Mask2NirConfig(CycleGANConfig):
    """Networks, losses and training of `mask2nir` (the CycleGAN fields, 9 blocks, and the feature losses)."""

    n_blocks: int = Field(9, ge=1, le=12, description="Residual blocks in each generator (paper: 9).")
    lambda_content: float = Field(0.01, ge=0, description="Weight of the content loss (Eq. 11); 0 turns it off.")
    lambda_global_style: float = Field(0.002, ge=0, description="Weight of the global style loss (Eq. 12).")
    lambda_local_style: float = Field(0.001, ge=0, description="Weight of the AdaAttN local style loss (Eq. 13-18).")
    feature_weights: str | None = Field(
        None, description="VGG-19 weights for the feature losses: None = torchvision's ImageNet file from torch's "
                          "hub cache, a file path, or 'random' (seeded random features, deliberately).")
    lambda_paired: float = Field(
        0.0, ge=0, description="Weight of the L1 term tying G_AB(mask) to its own image (needs registered "
                               "domains: mask i of A extracted from image i of B, same size); 0: unpaired only.")
    max_style_positions: int = Field(4096, ge=16, description="Style positions sampled for the attention (64*64).")
    mask_preprocessing: Literal["none", "paper"] = Field(
        "none", description="'paper': each training mask resized to 512x512, its centre 400x400 cut and resized to "
                            "300x300 (the paper's scale match of retinal masks to NIR-II vessels).")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # paper: ngf 64, 9 blocks, 128 px patches, batch 1, 400 epochs (about 400 x the data)
        "paper": {"ngf": 64, "ndf": 64, "patch_size": 128, "steps": 200_000, "decay_steps": 100_000,
                  "mask_preprocessing": "paper"},
        # real NIR frames and liver slices with their extracted masks (scripts/train_mask2nir_real.py):
        # CycleGAN + paired L1, the random-feature terms off (3.5x the step time, no ImageNet meaning)
        "real": {"lambda_paired": 10.0, "lambda_content": 0.0, "lambda_global_style": 0.0,
                 "lambda_local_style": 0.0, "patch_size": 96, "steps": 1200, "decay_steps": 600,
                 "checkpoint_every": 250},
        "test": {"ngf": 8, "ndf": 8, "n_blocks": 2, "patch_size": 64, "steps": 4, "decay_steps": 2,
                 "checkpoint_every": 2, "pool_size": 4, "synthetic_images": 3, "synthetic_size": 96,
                 "feature_weights": "random", "max_style_positions": 256},
    }

    @property
    def feature_losses_on(self) -> bool:
        return bool(self.lambda_content or self.lambda_global_style or self.lambda_local_style)


class Mask2NirOptions(PredictOptions):
    """mask2nir's options for a folder of masks -> image / mask pairs (for segmentation training)."""

    FILE_OPTIONS: ClassVar[frozenset[str]] = frozenset({"per_mask", "augment", "elastic_alpha", "seed", "image_dtype"})

    per_mask: int = Field(1, ge=1, description="a folder of masks: image / mask pairs per mask (above 1 needs --augment)")
    augment: bool = Field(False, description="a folder of masks: augment the masks (flips, rotations, elastic "
                                             "deformation) for the extra pairs")
    elastic_alpha: float = Field(8.0, ge=0, description="--augment: largest elastic shift in px")
    seed: int = Field(0, description="--augment: random seed")
    image_dtype: Literal["uint16", "uint8", "float32"] = Field(
        "uint16", description="a folder of masks: how the images are stored")

    def unused(self, *, folder: bool, target: Path) -> dict[str, str]:
        """All are for a folder of masks; the elastic shift and the seed only with augmentation."""
        given = self.model_fields_set & self.FILE_OPTIONS
        if not folder:
            return {name: "applies to a folder of masks" for name in sorted(given)}
        if not self.augment:
            return {name: "applies with augment (--augment)" for name in sorted(given & {"elastic_alpha", "seed"})}
        return {}

    @model_validator(mode="after")
    def _extra_pairs_need_augmentation(self) -> "Mask2NirOptions":
        if self.per_mask > 1 and not self.augment:
            raise ValueError("per_mask (--per-mask) above 1 needs augment (--augment): each extra image comes from an "
                             "augmented mask")
        return self


def binary_mask(mask: Any) -> np.ndarray:
    """float32 {0, 1}: 1 where ``mask`` is non-zero (bool, {0,1}, {0,255} or label images)."""
    array = np.asarray(mask)
    if array.dtype != bool and np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise InvalidInput("the mask contains NaN or infinite values")
    return (array != 0).astype(np.float32)


def paper_mask_preprocessing(mask: np.ndarray) -> np.ndarray:
    """The paper's scale match: resize to 512x512, cut the centre 400x400, resize to 300x300 (binary)."""
    from skimage.transform import resize

    def binary_resize(image: np.ndarray, side: int) -> np.ndarray:
        return (resize(image.astype(np.float32), (side, side), order=1, anti_aliasing=False) >= 0.5).astype(np.float32)

    square = binary_resize(mask, 512)
    return binary_resize(square[56:456, 56:456], 300)


def training_seeds(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint tree seeds below TRAINING_SEED_LIMIT for the mask domain and the NIR-II domain."""
    from napari_vesselgan.data.nir import TRAINING_SEED_LIMIT

    seeds = np.random.default_rng([seed, 4]).choice(TRAINING_SEED_LIMIT, size=2 * n, replace=False)
    return seeds[:n], seeds[n:]


def synthetic_domains(config: Mask2NirConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Unpaired synthetic masks (A) and NIR-II images (B), from disjoint tree seeds."""
    from napari_vesselgan.data import render_nir, vessel_tree

    shape = (config.synthetic_size, config.synthetic_size)
    seeds_a, seeds_b = training_seeds(config.synthetic_images, config.seed)
    masks = [vessel_tree(shape, int(s)).mask.astype(np.uint8) for s in seeds_a]
    images = [render_nir(vessel_tree(shape, int(s)), int(s)) for s in seeds_b]
    return masks, images


def build_feature_losses(config: Mask2NirConfig):
    """The content / style terms on VGG-19 (None when all three weights are 0)."""
    if not config.feature_losses_on:
        return None
    from napari_vesselgan.losses.adaattn import FeatureLosses
    from napari_vesselgan.nn.pretrained import feature_network

    features = feature_network("vgg19", FEATURE_LAYERS, config.feature_weights, signed=True)
    return FeatureLosses(features, content=config.lambda_content, global_style=config.lambda_global_style,
                         local_style=config.lambda_local_style, max_style_positions=config.max_style_positions,
                         seed=config.seed)


class Mask2NirMethod(Method):
    """Binary vessel mask -> synthetic NIR-II image: float32 in [0, 1], the mask's height and width."""

    name: ClassVar[str] = "mask2nir"
    kind: ClassVar[str] = "translation"
    config_class: ClassVar[type[TrainingConfig]] = Mask2NirConfig
    verb: ClassVar[str] = "Translating"
    summary: ClassVar[str] = "binary vessel mask -> synthetic NIR-II image (attention-guided CycleGAN)"
    input_kind: ClassVar[LayerKind] = "labels"
    options_class: ClassVar[type[PredictOptions]] = Mask2NirOptions
    training_sources: ClassVar[tuple[TrainingSource, ...]] = (
        TrainingSource("domain_a", "Vessel masks", "folder or image of binary vessel masks",
                       layer_kinds=("labels", "grey")),
        TrainingSource("domain_b", "NIR-II images (unpaired)", "folder or image of NIR-II images"),
    )
    evaluation: ClassVar[str | None] = "mask2nir"

    @classmethod
    def build_generator(cls, config: Mask2NirConfig) -> ResnetGenerator:  # type: ignore[override]
        return ResnetGenerator(1, 1, ngf=config.ngf, n_blocks=config.n_blocks)

    @classmethod
    def generator_key_in_training_checkpoint(cls) -> str:
        return "g_ab"

    # ----- prediction -------------------------------------------------------------------------
    def predict(self, image: Any, *, tile: int | None = None, progress=None, precision: str = "fp32",
                halo: int | None = None) -> np.ndarray:
        """The NIR-II image of a mask (2-D or a stack of masks); any non-zero pixel is a vessel."""
        image = as_numeric(image)
        check_image(image, channels=1)
        if isinstance(image, np.ndarray):
            binary = binary_mask(image)
        else:  # dask: stay lazy
            binary = (image != 0).astype(np.float32)
        return super().predict(binary, tile=tile, progress=progress, precision=precision, halo=halo)

    def _predict_plane(self, plane: Any, rng: IntensityRange, **options: Any) -> np.ndarray:
        # a mask is mapped by the fixed {0, 1} range, never by its own (an all-vessel mask is not "all -1")
        return super()._predict_plane(plane, MASK_RANGE, **options)

    def predict_folder(self, source: Path, target: Path, request: PredictionRequest,
                       progress: ProgressFn | None = None) -> Iterator[str]:
        """A folder of masks -> ``target/images``, ``target/masks``: image / mask pairs for training a
        segmentation model (``data.segmentation_dataset``), several per mask with augmentation."""
        from napari_vesselgan.data.mask_augment import MaskAugmentation
        from napari_vesselgan.data.segmentation_dataset import read_masks, synthesize_pairs

        options = request.options
        masks = read_masks(source)
        started = time.perf_counter()
        augmentation = MaskAugmentation(elastic_alpha=options.elastic_alpha) if options.augment else None
        pairs = synthesize_pairs(
            masks, target, lambda mask: self.predict_request(mask, request),
            per_mask=options.per_mask, augmentation=augmentation, seed=options.seed, image_dtype=options.image_dtype,
            provenance={"method": self.describe(**request.describe()), "request": request.describe()},
            progress=progress)
        yield (f"{len(pairs)} image / mask pairs from {len(masks)} masks -> {target}/images, {target}/masks "
               f"({time.perf_counter() - started:.1f} s)")

    # ----- training ---------------------------------------------------------------------------
    def train(self, dataset_or_dirs: Any = "synthetic", config: Mask2NirConfig | None = None, *,
              callbacks: tuple[Callback, ...] | list[Callback] = (), run_dir: str | os.PathLike | None = None,
              device: str | None = None, resume: bool = True) -> Path:
        """Train on (masks, NIR-II images) or ``"synthetic"``; return the exported weights.

        Each side may be a folder, an image file, an array, a list of arrays (layers' data) or
        ``"synthetic"``. A ``run_dir`` with ``last.safetensors`` resumes unless ``resume`` is False.
        """
        run = self.begin_training(dataset_or_dirs, config, run_dir, device)
        config, torch_device = run.config, run.device
        feature_losses = build_feature_losses(config)  # first: a missing VGG-19 file fails before any work
        synthetic = synthetic_domains(config) if run.synthetic else None
        domains, notes = [], []
        for index, (source, label) in enumerate(zip(run.sources, ("vessel masks", "NIR-II images"))):
            if is_synthetic(source):
                domains.append(synthetic[index])
                notes.append(f"{config.synthetic_images} synthetic {config.synthetic_size}px {label}")
            else:
                domains.append(load_domain(source))
                notes.append(f"{len(domains[-1])} user {label}")
        masks = [binary_mask(m) for m in prepare_masks(domains[0])]
        if config.mask_preprocessing == "paper":
            masks = [paper_mask_preprocessing(m) for m in masks]
        if any(not m.any() for m in masks):
            raise InvalidInput("a training mask has no vessel pixels")
        prepared_a = [m[None] * 2.0 - 1.0 for m in masks]
        prepared_b = prepare_images(domains[1])
        data_note = "; ".join(notes) + " (unpaired; disjoint synthetic tree seeds)" * (synthetic is not None)
        if config.lambda_paired > 0:
            data_note += f"; registered (mask i extracted from image i), paired L1 x {config.lambda_paired:g}"
        if config.lambda_paired > 0 and len(prepared_a) != len(prepared_b):
            raise InvalidInput(f"lambda_paired needs mask i of domain A extracted from image i of domain B: "
                               f"{len(prepared_a)} masks and {len(prepared_b)} images")
        if feature_losses is not None:
            feature_losses = feature_losses.to(torch_device)
        extra = None
        if feature_losses is not None or config.lambda_paired > 0:
            import torch

            def extra(tensors):
                losses = {} if feature_losses is None else feature_losses(tensors["real_a"], tensors["real_b"],
                                                                          tensors["fake_b"])
                if "paired_a" in tensors:
                    rendered = model.train_g_ab(tensors["paired_a"])
                    losses["paired"] = torch.nn.functional.l1_loss(rendered, tensors["paired_b"]) * config.lambda_paired
                return losses
        model = CycleGAN(
            self.name, config,
            g_ab=init_weights(self.build_generator(config), seed=config.seed),
            g_ba=init_weights(self.build_generator(config), seed=config.seed + 1),
            d_a=init_weights(PatchDiscriminator(1, config.ndf, config.n_layers_d), seed=config.seed + 2),
            d_b=init_weights(PatchDiscriminator(1, config.ndf, config.n_layers_d), seed=config.seed + 3),
            device=torch_device, extra_generator_loss=extra,
        )
        features_note = ("off" + " (plain CycleGAN)" * (config.lambda_paired == 0) if feature_losses is None else
                         "random VGG-19 features" if config.feature_weights == "random" else
                         f"VGG-19 weights {config.feature_weights or 'ImageNet (hub cache)'}")

        def batches(start: int):
            seed = run.batch_seed(start)
            unpaired = unpaired_batches(prepared_a, prepared_b, patch_size=config.patch_size,
                                        batch_size=config.batch_size, seed=seed)
            if config.lambda_paired <= 0:
                return unpaired
            registered = paired_batches(prepared_a, prepared_b, patch_size=config.patch_size,
                                        batch_size=config.batch_size, seed=seed + 1)
            return ((*ab, *pair) for ab, pair in zip(unpaired, registered))

        weights = fit(
            model, batches,
            run.run_dir, config.trainer_settings(resume=resume), callbacks=callbacks,
            provenance={"training_data": data_note, "feature_losses": features_note, **run.provenance},
        )
        return self.finish_training(run, weights, model.g_ab)


def prepare_masks(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Binary float32 (H, W) planes; stacks contribute each plane."""
    planes: list[np.ndarray] = []
    for index, mask in enumerate(masks):
        if mask.ndim == 3 and mask.shape[-1] in (3, 4):
            raise InvalidInput(f"training mask {index} has shape {mask.shape}; masks must be single-channel")
        planes += [mask] if mask.ndim == 2 else list(mask.reshape(-1, *mask.shape[-2:]))
    return planes
