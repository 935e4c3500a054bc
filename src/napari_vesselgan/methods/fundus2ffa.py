"""`fundus2ffa`: colour fundus photo -> late-phase FFA image, conditional GAN with a saliency loss (card 5).

Paired translation. Generator: the ResNet generator (encoder, residual blocks of two 3x3
convs each followed by a ReLU, decoder, tanh); discriminator: the conditional PatchGAN on
(fundus, FFA) with five 4x4 convs, LeakyReLU after the first four and a sigmoid. Loss (Eq. 3):
L_GAN + 100 L1 + 0.001 VGG19 perceptual + 1 L_sal, L_sal the MSE between the saliency maps
(:func:`napari_vesselgan.analysis.ffa_saliency`) of the generated and the real FFA image.
Adam 2e-4, betas (0.5, 0.999), batch 1, learning rate linearly decayed to 0 over the second
half. The paper's sizes are the ``paper`` preset (ngf 64, 9 blocks, 512 px); the default is
small (ngf 16, 6 blocks, 128 px crops) so it trains on a laptop's CPU. ``pix2pix`` is the
paper's baseline: the U-Net generator with GAN + 100 L1 only.

Circular region of interest: fundus photos show the retina in a circle. Prediction finds that
field of view in the input and sets the FFA outside it to 0 (black, as a camera gives it);
``circular_patch_mask`` masks every training patch pair with a circle whose diameter is the
patch width, the paper's preprocessing for photos with a circular ROI.

Perceptual term: VGG19 features (layer ``perceptual_layer``, MSE as Eq. 6) through
``nn.pretrained.feature_network``; ``perceptual_weights`` None = ImageNet weights (hub cache
or download), a path = that file, ``"random"`` = seeded random features; ``perceptual=False``
switches the term off. The weights file records which was used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator
from torch import nn

from napari_vesselgan import InvalidInput
from napari_vesselgan.data.patches import paired_batches, prepare_images, unpaired_batches
from napari_vesselgan.data.sources import load_domain
from napari_vesselgan.engine.trainer import Callback, fit
from napari_vesselgan.methods.base import Method, ProgressFn, as_numeric, is_synthetic
from napari_vesselgan.methods.conditional_gan import ConditionalGAN
from napari_vesselgan.evaluation.common import FUNDUS2FFA_HELD_OUT_SEED_BASE
from napari_vesselgan.methods.config import TrainingConfig
from napari_vesselgan.methods.options import LayerKind, PredictOptions, TrainingSource
from napari_vesselgan.nn import (ConditionalPatchDiscriminator, PatchDiscriminator, ResnetGenerator, UnetGenerator,
                                 init_weights)


class Fundus2FFAConfig(TrainingConfig):
    """Networks, losses and training of `fundus2ffa`."""

    SYNTHETIC_COUNT_FIELD: ClassVar[str | None] = "synthetic_pairs"
    SYNTHETIC_SEED_LIMIT: ClassVar[int | None] = FUNDUS2FFA_HELD_OUT_SEED_BASE

    generator: Literal["resnet", "unet"] = Field("resnet", description="ResNet generator (paper) or pix2pix U-Net (baseline).")
    ngf: int = Field(16, ge=4, le=256, description="Generator width (paper: 64).")
    n_blocks: int = Field(6, ge=1, le=12, description="Residual blocks of the ResNet generator (paper's reference: 9).")
    unet_downs: int = Field(7, ge=2, le=9, description="Down-samplings of the U-Net generator (pix2pix: 8 at 256 px).")
    ndf: int = Field(32, ge=4, le=256, description="Discriminator width (paper: 64).")
    n_layers_d: int = Field(3, ge=1, le=5, description="Discriminator depth; 3 gives five 4x4 convs (70x70 patches).")
    lambda_l1: float = Field(100.0, ge=0, description="Weight of the L1 loss (alpha, Eq. 3).")
    perceptual: bool = Field(True, description="Use the VGG19 perceptual loss.")
    perceptual_weights: str | None = Field(
        None, description="VGG19 weights: None = ImageNet (hub cache or download), a file path, or 'random'.")
    perceptual_layer: str = Field("relu3_3", description="VGG19 feature map compared (Eq. 6's phi_i,j).")
    lambda_perceptual: float = Field(0.001, ge=0, description="Weight of the perceptual loss (beta).")
    lambda_saliency: float = Field(1.0, ge=0, description="Weight of the saliency loss (gamma; 0 = the 'without L_sal' ablation).")
    saliency_median_size: int = Field(51, ge=1, description="Median (background) size of the saliency map.")
    saliency_gaussian_size: int = Field(7, ge=1, description="Gaussian (denoising) size of the saliency map.")
    saliency_a: float = Field(1.0, description="Contrast factor a of the saliency map.")
    circular_patch_mask: bool = Field(False, description="Mask training patches with a circle of the patch's width.")
    synthetic_pairs: int = Field(64, ge=1, description="Pairs when training on synthetic data.")
    synthetic_size: int = Field(256, ge=32, description="Side of each synthetic training image in pixels.")
    synthetic_style: Literal["classic", "fitted"] = Field(
        "classic", description="The synthetic eyes' look: the classic renderer or the style fitted to real images "
                               "(data.fundus.FITTED_FUNDUS_STYLE / FITTED_FFA_STYLE).")
    mix_synthetic: bool = Field(
        False, description="With user pairs, train on the synthetic_pairs synthetic pairs too (real structure "
                           "from the user's pairs, variety from the renderer).")
    init_weights: str | None = Field(
        None, description="Start the generator from these fundus2ffa weights ('bundled': the bundled default) "
                          "to fine-tune it; None: from scratch.")
    realism_images: str | None = Field(
        None, description="A folder or image of real angiograms, not paired with the photos, for the realism term.")
    lambda_realism: float = Field(
        0.0, ge=0, description="Weight of the realism term: an unconditional least-squares PatchGAN that tells "
                               "patches of realism_images from generated ones (0: off).")

    @model_validator(mode="after")
    def _realism_needs_images(self) -> "Fundus2FFAConfig":
        if (self.lambda_realism > 0) != (self.realism_images is not None):
            raise ValueError("lambda_realism > 0 and realism_images go together: set both or neither")
        return self

    @property
    def patch_multiple(self) -> int:
        """The generator's stride: 4 for the ResNet generator, 2**unet_downs for the U-Net."""
        return 2**self.unet_downs if self.generator == "unet" else 4

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"ngf": 64, "n_blocks": 9, "ndf": 64, "patch_size": 512, "synthetic_size": 768,
                  "circular_patch_mask": True, "steps": 2_000_000, "decay_steps": 1_000_000},
        "pix2pix": {"generator": "unet", "perceptual": False, "lambda_saliency": 0.0},
        "test": {"ngf": 8, "n_blocks": 2, "ndf": 8, "unet_downs": 5, "patch_size": 64, "steps": 4, "decay_steps": 2,
                 "checkpoint_every": 2, "synthetic_pairs": 2, "synthetic_size": 96, "perceptual": False},
    }


class Fundus2FFAOptions(PredictOptions):
    """fundus2ffa's prediction options."""

    mask_fov: bool = Field(True, description="Set the FFA to black outside the photo's field of view.")


def synthetic_pairs(config: Fundus2FFAConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Training pairs (fundus RGB, FFA) from seeds ``config.seed .. + synthetic_pairs - 1``, in ``synthetic_style``."""
    from napari_vesselgan.data.fundus import paired_fundus_ffa

    size = config.synthetic_size
    return paired_fundus_ffa(config.synthetic_pairs, (size, size), config.seed,
                             fitted_style=config.synthetic_style == "fitted")


def field_of_view(image: np.ndarray, threshold: float = 0.04) -> np.ndarray:
    """bool (H, W): the fundus camera's field of view, i.e. the largest bright region of an RGB image.

    Pixels whose brightest channel exceeds ``threshold`` of the image's range, holes filled,
    largest connected region kept. A photo without a dark surround (a square crop) gives all
    True.
    """
    from scipy import ndimage

    plane = np.asarray(image, np.float32).max(axis=-1)
    low, high = float(plane.min()), float(plane.max())
    if high <= low:
        return np.ones(plane.shape, bool)
    bright = ndimage.binary_fill_holes(plane > low + threshold * (high - low))
    labels, count = ndimage.label(bright)
    if count == 0:
        return np.ones(plane.shape, bool)
    sizes = np.bincount(labels.ravel())[1:]
    fov = labels == 1 + int(np.argmax(sizes))
    return fov if fov.mean() > 0.1 else np.ones(plane.shape, bool)


def _circle_batches(batches, patch_size: int):
    """Multiply each patch pair by the paper's circle (diameter = patch width); -1 is black in [-1, 1]."""
    import torch

    yy, xx = np.mgrid[0:patch_size, 0:patch_size] + 0.5 - patch_size / 2
    circle = torch.from_numpy(yy**2 + xx**2 <= (patch_size / 2) ** 2)
    for condition, target in batches:
        yield torch.where(circle, condition, -1.0), torch.where(circle, target, -1.0)


def grey_angiograms(images: list[np.ndarray]) -> list[np.ndarray]:
    """Angiograms as grey planes: one stored as RGB (a JPEG of a grey image) becomes its channels' mean."""
    return [np.asarray(image)[..., :3].mean(axis=-1) if np.ndim(image) == 3 and np.shape(image)[-1] in (3, 4)
            else np.asarray(image) for image in images]


def perceptual_features(config: Fundus2FFAConfig) -> tuple[nn.Module | None, str]:
    """The frozen VGG19 trunk for the perceptual term and a note of which weights it has."""
    if not config.perceptual or config.lambda_perceptual == 0:
        return None, "off"
    from napari_vesselgan.nn.pretrained import loss_features

    features, which = loss_features("vgg19", [config.perceptual_layer], config.perceptual_weights, signed=True)
    return features, f"{which}, {config.perceptual_layer}"


class Fundus2FFAMethod(Method):
    """RGB fundus photo (Y, X, 3) -> late-phase FFA, float32 (Y, X) in [0, 1], black outside the field of view."""

    name: ClassVar[str] = "fundus2ffa"
    kind: ClassVar[str] = "translation"
    config_class: ClassVar[type[TrainingConfig]] = Fundus2FFAConfig
    in_channels: ClassVar[int] = 3
    out_channels: ClassVar[int] = 1
    verb: ClassVar[str] = "Translating"
    summary: ClassVar[str] = "colour fundus photo -> late-phase FFA image (conditional GAN with a saliency loss)"
    input_kind: ClassVar[LayerKind] = "rgb"
    options_class: ClassVar[type[PredictOptions]] = Fundus2FFAOptions
    saliency_kinds: ClassVar[tuple[str, ...]] = ("gradient", "ffa")
    training_sources: ClassVar[tuple[TrainingSource, ...]] = (
        TrainingSource("domain_a", "Fundus photos (colour)", "folder or image of colour fundus photos",
                       layer_kinds=("rgb",)),
        TrainingSource("domain_b", "Late-phase FFA images (registered to the photos, same order)",
                       "folder or image of the registered FFA images, in the photos' order"),
    )
    evaluation: ClassVar[str | None] = "fundus2ffa"

    @classmethod
    def build_generator(cls, config: Fundus2FFAConfig) -> nn.Module:  # type: ignore[override]
        if config.generator == "unet":
            return UnetGenerator(3, 1, ngf=config.ngf, num_downs=config.unet_downs)
        return ResnetGenerator(3, 1, ngf=config.ngf, n_blocks=config.n_blocks, block_relu_after_each=True)

    def predict(self, image: Any, *, tile: int | None = None, progress: ProgressFn | None = None,
                precision: str = "fp32", halo: int | None = None, mask_fov: bool = True) -> np.ndarray:
        """The FFA image of an RGB fundus photo (or of each photo of a stack (..., Y, X, 3))."""
        image = as_numeric(image)
        out = super().predict(image, tile=tile, progress=progress, precision=precision, halo=halo)
        if mask_fov:
            photos = np.asarray(image).reshape(-1, *image.shape[-3:])
            planes = out.reshape(-1, *out.shape[-2:])
            for photo, plane in zip(photos, planes, strict=True):
                plane[~field_of_view(photo)] = 0.0
        return out

    def saliency_of(self, kind: str, image: np.ndarray, output: np.ndarray) -> np.ndarray:
        """"ffa": the FFA saliency map (card 5's Eq. 1) of the generated FFA; "gradient": as every method."""
        if kind == "ffa":
            from napari_vesselgan.analysis import ffa_saliency

            return ffa_saliency(output)
        return super().saliency_of(kind, image, output)

    def train(self, dataset_or_dirs: Any = "synthetic", config: Fundus2FFAConfig | None = None, *,
              callbacks: tuple[Callback, ...] | list[Callback] = (), run_dir: str | os.PathLike | None = None,
              device: str | None = None, resume: bool = True) -> Path:
        """Train on registered (fundus, FFA) pairs or ``"synthetic"``; return the exported weights.

        ``dataset_or_dirs`` is ``"synthetic"`` or a pair (fundus, FFA) of sources (folders, files,
        arrays or lists of arrays) holding the same number of registered images in the same
        order. A ``run_dir`` holding ``last.safetensors`` resumes unless ``resume`` is False.
        """
        run = self.begin_training(dataset_or_dirs, config, run_dir, device)
        config = run.config
        synthetic_note = (f"{config.synthetic_pairs} synthetic {config.synthetic_size}px fundus/FFA pairs "
                          f"(data.fundus, {config.synthetic_style} style, seeds "
                          f"{config.seed}..{config.seed + config.synthetic_pairs - 1})")
        if all(map(is_synthetic, run.sources)):
            fundus, ffa = synthetic_pairs(config)
            data_note = synthetic_note
        else:
            fundus, ffa = load_domain(run.sources[0]), load_domain(run.sources[1])
            if len(fundus) != len(ffa):
                raise InvalidInput(f"{len(fundus)} fundus photos but {len(ffa)} FFA images: they must pair one to one")
            data_note = f"{len(fundus)} user fundus/FFA pairs"
            if config.mix_synthetic:
                more_fundus, more_ffa = synthetic_pairs(config)
                fundus, ffa = list(fundus) + more_fundus, list(ffa) + more_ffa
                data_note += f" and {synthetic_note}"
        inputs, targets = prepare_images(fundus, channels=3), prepare_images(ffa, channels=1)
        if len(inputs) != len(targets):
            raise InvalidInput(f"{len(inputs)} fundus photos but {len(targets)} FFA images: they must pair one to one")
        realism = (prepare_images(grey_angiograms(load_domain(config.realism_images)))
                   if config.lambda_realism > 0 else None)
        if realism is not None:
            data_note += f"; realism term against {len(realism)} unpaired real angiograms ({config.realism_images})"
        features, perceptual_note = perceptual_features(config)
        generator = init_weights(self.build_generator(config), seed=config.seed)
        if config.init_weights is not None:  # a resumed run then loads its own last checkpoint over it
            data_note += f"; generator started from {self.start_from(generator, config.init_weights)}"
        model = ConditionalGAN(
            self.name, config,
            generator=generator,
            discriminator=init_weights(ConditionalPatchDiscriminator(4, config.ndf, config.n_layers_d), seed=config.seed + 1),
            device=run.device, features=features,
            realism=(init_weights(PatchDiscriminator(1, config.ndf, config.n_layers_d), seed=config.seed + 2)
                     if realism is not None else None),
        )

        def batches(start: int):
            stream = paired_batches(inputs, targets, patch_size=config.patch_size, batch_size=config.batch_size,
                                    seed=run.batch_seed(start))
            if config.circular_patch_mask:
                stream = _circle_batches(stream, config.patch_size)
            if realism is None:
                return stream
            unpaired = unpaired_batches(realism, realism, patch_size=config.patch_size, batch_size=config.batch_size,
                                        seed=run.batch_seed(start) + 1)
            return ((*pair, real_patches) for pair, (real_patches, _) in zip(stream, unpaired))

        weights = fit(model, batches, run.run_dir, config.trainer_settings(resume=resume), callbacks=callbacks,
                      provenance={"training_data": data_note, "perceptual_features": perceptual_note, **run.provenance})
        return self.finish_training(run, weights, model.g)
