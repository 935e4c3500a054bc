"""`superres`: 4x resolution enhancement of fluorescence images, a GAN with the total gradient
loss (docs/methods.md card 2; Biomed. Opt. Express 2019).

Degradation (Eq. 2): Y = U(D X), bicubic down by 4 then bicubic up to the original size; the
network maps Y to X-hat of the same size (``data.degradation``). Generator: strided-conv
down-sampling to 1/4, seven residual-in-residual dense blocks, spectral norm, PixelShuffle back
up (``nn.rrdb``). Discriminator: a spectrally normalised PatchGAN, least-squares targets.
Generator loss (Eq. 7-8):

    alpha MSE + beta SmoothL1 + gamma VGG16-perceptual + eta ResNet152-perceptual
    + epsilon L_adv + theta L_TG

with the paper's two weight sets: stage 1 (pre-training, natural images, crop 64, Adam 1e-3)
and stage 2 (fine-tuning on fluorescence images, crop 32, early stop on validation PSNR).
Stage 1 here trains on scikit-image's bundled natural photographs (the paper's choice of data
kind); stage 2 on synthetic NIR vessel images or the user's own high-resolution images.

Intensities: each pair is scaled by the range of its low-resolution image Y (all a user has at
prediction time), so the target may exceed [-1, 1] and the output is linear (no tanh); results
go back through the same mapping, clipped only to the dtype's limits.
"""

from __future__ import annotations

import copy
import gc
import json
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from napari_vesselgan import InvalidInput
from napari_vesselgan.data.degradation import (NIR_CAMERA_OPTICS, crop_to_multiple, degrade,
                                                  realistic_degrade, upsample)
from napari_vesselgan.data.intensity import IntensityRange, intensity_range
from napari_vesselgan.data.nir import TRAINING_SEED_LIMIT, VALIDATION_SEED_BASE
from napari_vesselgan.data.patches import grey_planes, paired_batches
from napari_vesselgan.data.sources import load_domain
from napari_vesselgan.engine.device import autocast
from napari_vesselgan.engine.distributed import Distributed, current as current_group
from napari_vesselgan.engine.tiling import predict_whole
from napari_vesselgan.engine.trainer import Callback, TrainerSettings, TrainState, fit
from napari_vesselgan.io.atomic import atomic_path
from napari_vesselgan.losses.adversarial import GANLoss
from napari_vesselgan.losses.total_gradient import total_gradient_loss
from napari_vesselgan.methods.base import Method, ProgressFn, as_numeric, check_image, memory_budget_bytes
from napari_vesselgan.methods.config import TrainingConfig
from napari_vesselgan.methods.options import PredictOptions, TrainingSource
from napari_vesselgan.metrics import psnr
from napari_vesselgan.nn import PatchDiscriminator, init_weights
from napari_vesselgan.nn.pretrained import feature_network
from napari_vesselgan.nn.rrdb import SuperResGenerator, freeze_spectral_norm

NATURAL_IMAGES = ("astronaut", "brick", "camera", "cat", "cell", "clock", "coffee", "coins", "grass", "gravel",
                  "hubble_deep_field", "immunohistochemistry", "moon", "page", "rocket", "text")


# ----------------------------------------------------------------------------------- config
class LossWeights(BaseModel):
    """The weights of Eq. 7-8 (alpha, beta, gamma, eta, epsilon, theta)."""

    model_config = ConfigDict(extra="forbid")

    mse: float = Field(1.0, ge=0, description="alpha: mean squared error.")
    smooth_l1: float = Field(1.0, ge=0, description="beta: SmoothL1 (Huber) loss.")
    vgg: float = Field(8e-3, ge=0, description="gamma: VGG16 perceptual loss.")
    resnet: float = Field(1e-2, ge=0, description="eta: ResNet152 perceptual loss.")
    adversarial: float = Field(1e-3, ge=0, description="epsilon: least-squares adversarial loss.")
    total_gradient: float = Field(1.0, ge=0, description="theta: total gradient loss.")


PRETRAIN_WEIGHTS = LossWeights()  # the paper's stage 1
FINETUNE_WEIGHTS = LossWeights(mse=10, smooth_l1=10, vgg=8, resnet=1, adversarial=1, total_gradient=10)  # stage 2


class SuperResConfig(TrainingConfig):
    """Networks, losses and the two training stages of `superres` (``steps`` = stage 1)."""

    SYNTHETIC_COUNT_FIELD: ClassVar[str | None] = "synthetic_images"
    SYNTHETIC_SEED_LIMIT: ClassVar[int | None] = TRAINING_SEED_LIMIT

    steps: int = Field(2000, ge=0, description="Stage 1 (pre-training) steps (0: skip stage 1).")
    decay_steps: int = Field(1000, ge=0, description="Final stage-1 steps over which the learning rate falls to 0.")
    lr: float = Field(1e-3, gt=0, description="Stage 1 Adam learning rate (the paper: 1e-3).")
    beta1: float = Field(0.9, ge=0, lt=1, description="Adam beta1.")
    batch_size: int = Field(16, ge=1, description="Patches per step (the paper: 64).")
    patch_size: int = Field(64, ge=16, description="Stage 1 crop size (the paper: 64).")

    features: int = Field(32, ge=8, le=256, description="Generator width (the paper's RRDB: 64).")
    growth: int = Field(16, ge=4, le=128, description="Dense-block growth channels (paper: 32).")
    n_blocks: int = Field(7, ge=1, le=32, description="Residual-in-residual dense blocks (paper: 7).")
    spectral: bool = Field(True, description="Spectral normalisation in generator and discriminator.")
    input_skip: bool = Field(True, description="Add the input to the output (learn the missing detail).")
    ndf: int = Field(32, ge=4, le=256, description="Discriminator width.")
    n_layers_d: int = Field(3, ge=1, le=5, description="Discriminator depth (3: 70x70 patches).")
    scale: int = Field(4, ge=2, le=8, description="Degradation factor of D and U (the paper: 4).")
    photons: float | None = Field(None, gt=0, description="Poisson noise in the low-resolution images (None: none).")
    tg_k_max: int | None = Field(None, ge=1, description="Largest offset of the TG loss (None: half of each axis).")
    pretrain_loss: LossWeights = Field(default_factory=lambda: PRETRAIN_WEIGHTS.model_copy(),
                                       description="Loss weights of stage 1.")
    finetune_loss: LossWeights = Field(default_factory=lambda: FINETUNE_WEIGHTS.model_copy(),
                                       description="Loss weights of stage 2.")
    perceptual: Literal["off", "imagenet", "random"] = Field(
        "off", description="Perceptual networks: ImageNet weights (hub cache, or the vgg_weights and resnet_weights files), "
                           "random features, or off (the gamma and eta terms are dropped).")
    vgg_weights: str | None = Field(None, description="Local VGG16 weights file (else torch's hub cache).")
    resnet_weights: str | None = Field(None, description="Local ResNet152 weights file (else the hub cache).")
    vgg_layer: str = Field("relu3_3", description="VGG16 layer compared by the perceptual loss.")
    resnet_layer: str = Field("layer2", description="ResNet152 stage compared by the perceptual loss.")
    pretrain_data: Literal["natural", "synthetic", "none"] = Field(
        "natural", description="Stage 1 data: scikit-image's natural photos (the paper's kind), synthetic "
                               "vessels, or none (skip stage 1).")
    finetune_steps: int = Field(1000, ge=0, description="Stage 2 steps (0: no fine-tuning).")
    finetune_lr: float = Field(1e-4, gt=0, description="Stage 2 Adam learning rate (the paper: 1e-6).")
    finetune_patch_size: int = Field(32, ge=16, description="Stage 2 crop size (the paper: 32).")
    validate_every: int = Field(100, ge=1, description="Stage 2 steps between validation PSNR measurements.")
    patience: int = Field(5, ge=1, description="Validations without a better PSNR before stage 2 stops early.")
    validation_images: int = Field(4, ge=1, description="Held-out synthetic validation images (256 px).")
    synthetic_images: int = Field(48, ge=1, description="Synthetic high-resolution training images.")
    synthetic_size: int = Field(256, ge=32, description="Side of each synthetic training image in pixels.")
    degradation: dict[str, float] | None = Field(
        None, description="Real optics (data.nir_optics.NIRDegradation fields, e.g. the fitted NIR ones): stage-2 "
                          "pairs get its lens blur and camera noise, jittered per pair (None: bicubic only).")
    bicubic_share: float = Field(0.0, ge=0, le=1, description="With degradation: share of stage-2 pairs made by "
                                                              "bicubic alone (keeps the noise-free behaviour).")
    degraded_copies: int = Field(1, ge=1, description="Stage-2 pairs made of each high-resolution image.")
    synthetic_mix: int = Field(0, ge=0, description="Synthetic NIR images added to user stage-2 data "
                                                    "(keeps the synthetic gain).")
    init_weights: str | None = Field(None, description="Stage 2 starts from these superres weights ('bundled': the "
                                                       "package's) instead of stage 1.")

    PATCH_FIELDS: ClassVar[tuple[str, ...]] = ("patch_size", "finetune_patch_size")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"features": 64, "growth": 32, "batch_size": 64, "patch_size": 64, "lr": 1e-3,
                  "steps": 40_000, "decay_steps": 0, "finetune_steps": 20_000, "finetune_lr": 1e-6,
                  "perceptual": "imagenet"},
        # Stage 2 on real fluorescence with real optics, from the bundled weights (the NIR camera fitted to
        # all three nir2-mouse pairs; scripts/train_superres_real.py refits it on the training frames only).
        # Pixel losses and a small TG term, no adversary: with the paper's stage-2 weights (TG 10, adversarial 1) a leave-one-out fold gained only +0.1 dB over bicubic under
        # real optics; a quarter of bicubic-only pairs lost up to 0.5 dB under the bicubic protocol, and 600 steps
        # at 1e-4 left half the real-optics gain (issue 13 notes). 48 px crops and 8 noise draws per image
        # (was 32 px, 4) gave +0.05 to +0.17 dB on each held-out frame image and +0.26 dB on the odd liver
        # slices; 64 px crops gave no more, and 2400 steps with the last half decayed nothing on a held-out frame.
        "real": {"steps": 0, "init_weights": "bundled", "degradation": dict(NIR_CAMERA_OPTICS),
                 "finetune_steps": 1200, "finetune_lr": 2e-4, "finetune_patch_size": 48,
                 "validate_every": 50, "patience": 6, "degraded_copies": 8, "bicubic_share": 0.5,
                 "synthetic_mix": 16, "checkpoint_every": 100,
                 "finetune_loss": {"mse": 10.0, "smooth_l1": 10.0, "vgg": 0.0, "resnet": 0.0, "adversarial": 0.0,
                                   "total_gradient": 0.1}},
        "test": {"features": 8, "growth": 4, "n_blocks": 1, "ndf": 8, "batch_size": 2, "patch_size": 32,
                 "steps": 3, "decay_steps": 1, "finetune_steps": 3, "finetune_patch_size": 32, "validate_every": 2,
                 "checkpoint_every": 2, "synthetic_images": 2, "synthetic_size": 64, "validation_images": 1,
                 "pretrain_data": "synthetic"},
    }


class SuperResOptions(PredictOptions):
    """superres's prediction options."""

    scale: int = Field(1, ge=1, le=8, description="1: the input is already re-upscaled to the target size (the "
                                                   "model's training form, same size out); 4: the input is low "
                                                   "resolution, up-sampled 4x first (4x the pixels out)")


# -------------------------------------------------------------------------------------- data
def natural_images() -> list[np.ndarray]:
    """scikit-image's bundled photographs (offline), as grey float images."""
    import skimage.data
    from skimage.color import rgb2gray

    images = []
    for name in NATURAL_IMAGES:
        image = getattr(skimage.data, name)()
        images.append(rgb2gray(image) if image.ndim == 3 else image.astype(np.float64) / 255.0)
    return images


def synthetic_images(count: int, size: int, seed: int) -> list[np.ndarray]:
    """High-resolution synthetic NIR vessel images (training seeds < 1e6)."""
    from napari_vesselgan.data.nir import render_nir
    from napari_vesselgan.data.vessels import vessel_tree

    return [render_nir(vessel_tree((size, size), seed + i), seed + i) for i in range(count)]


def make_pair(high: np.ndarray, config: SuperResConfig, seed: int = 0, *, realistic: bool | None = None) -> np.ndarray:
    """(2, H, W) float32: [Y, X] both scaled by Y's range, cropped to a multiple of the scale.

    ``realistic`` (default: when ``config.degradation`` is set) degrades through real optics
    (``data.degradation.realistic_degrade``, jittered around the fit); else bicubic only."""
    high = np.asarray(high)
    if high.ndim != 2:
        raise InvalidInput(f"superres trains on grey 2-D images; got shape {high.shape}")
    if realistic is None:
        realistic = config.degradation is not None
    if realistic:
        from napari_vesselgan.data.nir_optics import NIRDegradation

        optics = NIRDegradation.from_dict(config.degradation or {})
        _, low_up = realistic_degrade(high, config.scale, optics=optics, seed=seed)
    else:
        _, low_up = degrade(high, config.scale, photons=config.photons, seed=seed)
    rng = intensity_range(low_up)
    return np.stack([rng.to_network(low_up), rng.to_network(crop_to_multiple(high, config.scale))])


def batches_of(pairs: list[np.ndarray], *, patch_size: int, batch_size: int, seed: int):
    """Endless (Y, X) batches of aligned random crops of [Y, X] pairs (flips and turns alike)."""
    return paired_batches([pair[:1] for pair in pairs], [pair[1:] for pair in pairs], patch_size=patch_size,
                          batch_size=batch_size, seed=seed)


# ---------------------------------------------------------------------------------- training
class PerceptualLoss(nn.Module):
    """Mean squared difference of one layer's features (SRGAN's content loss, Eq. 4)."""

    def __init__(self, network: str, layer: str, weights: str | None):
        super().__init__()
        self.features = feature_network(network, [layer], weights, signed=True)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(self.features(pred)[0], self.features(target)[0])


class BestGenerator(nn.Module):
    """The generator with the best validation PSNR so far, checkpointed with the run."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = copy.deepcopy(generator).eval().requires_grad_(False)
        self.register_buffer("psnr", torch.tensor(float("-inf")))
        self.register_buffer("step", torch.tensor(0))
        self.register_buffer("stale", torch.tensor(0))  # validations since the best one
        self.register_buffer("stopped", torch.tensor(False))


class SuperResGAN:
    """Generator, discriminator, their optimisers and one step of Eq. 5-8; a :class:`Trainable`."""

    def __init__(self, method: str, config: SuperResConfig, weights: LossWeights, *, generator: nn.Module,
                 discriminator: nn.Module, lr: float, device: torch.device, best: BestGenerator | None = None):
        self.method, self.config, self.weights, self.device = method, config, weights, device
        self.generator, self.discriminator = generator.to(device), discriminator.to(device)
        self.best = best.to(device) if best is not None else None
        self.gan = GANLoss("lsgan")
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)
        self.perceptual: dict[str, PerceptualLoss] = {}
        if config.perceptual != "off":
            chosen = {"vgg": ("vgg16", config.vgg_layer, config.vgg_weights),
                      "resnet": ("resnet152", config.resnet_layer, config.resnet_weights)}
            for key, (network, layer, file) in chosen.items():
                if getattr(weights, key) > 0:
                    source = "random" if config.perceptual == "random" else file
                    self.perceptual[key] = PerceptualLoss(network, layer, source).to(device)
        # What the steps call to train G and D (DDP wrappers under torchrun, see distribute).
        self.train_generator: Any = self.generator
        self.train_discriminator: Any = self.discriminator

    def distribute(self, group: Distributed) -> None:
        """Train with DistributedDataParallel in ``group``: G and D wrapped one by one (the frozen
        perceptual networks and the best-generator copy are not)."""
        self.train_generator = group.wrap(self.generator, self.config.batch_size)
        self.train_discriminator = group.wrap(self.discriminator, self.config.batch_size)

    def networks(self) -> dict[str, nn.Module]:
        nets = {"generator": self.generator, "discriminator": self.discriminator}
        return {**nets, "best": self.best} if self.best is not None else nets

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def inference_networks(self) -> dict[str, nn.Module]:
        if self.best is not None and bool(torch.isfinite(self.best.psnr)):
            return {"generator": self.best.generator}
        return {"generator": self.generator}

    def config_dict(self) -> dict[str, Any]:
        return self.config.model_dump()

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        low, high = (t.to(self.device, non_blocking=True) for t in batch)
        w = self.weights
        adversarial = w.adversarial > 0
        with autocast(self.device, self.config.precision):
            self.discriminator.requires_grad_(False)
            fake = self.train_generator(low)
            terms: dict[str, torch.Tensor] = {}
            if w.mse > 0:
                terms["mse"] = w.mse * nn.functional.mse_loss(fake, high)
            if w.smooth_l1 > 0:
                terms["smooth_l1"] = w.smooth_l1 * nn.functional.smooth_l1_loss(fake, high)
            for key, loss in self.perceptual.items():
                terms[key] = getattr(w, key) * loss(fake, high)
            if adversarial:
                terms["adversarial"] = w.adversarial * self.gan(self.discriminator(fake), True)
        if w.total_gradient > 0:  # in float32: FFTs of sums of squares
            terms["total_gradient"] = w.total_gradient * total_gradient_loss(fake.float(), high.float(),
                                                                             self.config.tg_k_max)
        loss_g = sum(terms.values())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        report = {"G": float(loss_g.detach()), **{k: float(v.detach()) for k, v in terms.items()}}
        if adversarial:
            self.discriminator.requires_grad_(True)
            with autocast(self.device, self.config.precision):
                loss_d = 0.5 * (self.gan(self.train_discriminator(high), True)
                                + self.gan(self.train_discriminator(fake.detach()), False))
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            report["D"] = float(loss_d.detach())
        return report


def validation_psnr(generator: nn.Module, pairs: list[np.ndarray], device: torch.device) -> float:
    """Mean PSNR (dB, on the [-1, 1] scale of the target's range) of the generator on whole pairs."""
    was_training = generator.training
    generator.eval()
    values = []
    with torch.no_grad():
        for pair in pairs:
            out = predict_whole(generator, pair[:1], stride=4, device=device)[0]
            target = pair[1]
            values.append(psnr(target, out, data_range=float(target.max() - target.min()) or 1.0))
    generator.train(was_training)
    return float(np.mean(values))


class EarlyStopping(Callback):
    """Stage 2: measure validation PSNR every ``every`` steps, keep the best generator, stop
    after ``patience`` validations without improvement; the history goes to validation.json."""

    def __init__(self, model: SuperResGAN, pairs: list[np.ndarray], every: int, patience: int):
        self.model, self.pairs, self.every, self.patience = model, pairs, every, patience
        self.history: list[dict[str, float]] = []

    def on_train_start(self, state: TrainState) -> None:
        path = state.run_dir / "validation.json" if state.run_dir else None
        if path is not None and path.is_file() and state.step:
            self.history = [h for h in json.loads(path.read_text()) if h["step"] <= state.step]
        if bool(self.model.best.stopped):
            state.request_stop()
        elif not self.history:
            self._validate(state)  # the stage-1 generator is the first candidate

    def on_step_end(self, state: TrainState) -> None:
        if state.step % self.every == 0 or state.step == state.total_steps:
            self._validate(state)

    def _validate(self, state: TrainState) -> None:
        best = self.model.best
        value = validation_psnr(self.model.generator, self.pairs, self.model.device)
        self.history.append({"step": state.step, "psnr": value})
        if value > float(best.psnr):
            best.generator.load_state_dict(self.model.generator.state_dict())
            best.psnr.fill_(value)
            best.step.fill_(state.step)
            best.stale.zero_()
        else:
            best.stale += 1
            if int(best.stale) >= self.patience:
                best.stopped.fill_(True)
                state.request_stop()
        if state.run_dir is not None and current_group().is_main:  # every rank decides alike, rank 0 writes
            with atomic_path(state.run_dir / "validation.json") as tmp:
                tmp.write_text(json.dumps(self.history))


# --------------------------------------------------------------------------------- the method
class SuperResMethod(Method):
    """Fluorescence image (re-upscaled, or low resolution with ``scale=4``) -> enhanced image."""

    name: ClassVar[str] = "superres"
    kind: ClassVar[str] = "restoration"
    config_class: ClassVar[type[TrainingConfig]] = SuperResConfig
    verb: ClassVar[str] = "Enhancing"
    summary: ClassVar[str] = "4x resolution enhancement of fluorescence images (GAN with the total gradient loss)"
    options_class: ClassVar[type[PredictOptions]] = SuperResOptions
    training_sources: ClassVar[tuple[TrainingSource, ...]] = (
        TrainingSource("data", "High-resolution images (their low-resolution partners are made by bicubic degradation)",
                       "folder or image of high-resolution training images"),
    )
    evaluation: ClassVar[str | None] = "superres"

    def __init__(self, config: TrainingConfig, generator: nn.Module, **kwargs: Any):
        # Prediction only from here (training always builds fresh networks): the spectrally
        # normalised weights baked into plain convolutions, stored channels-last, which
        # benchmarks/bench_superres.py measured 1.4-1.5x faster on the CPU (outputs within 1e-5).
        generator = freeze_spectral_norm(generator).to(memory_format=torch.channels_last)
        super().__init__(config, generator, **kwargs)

    @classmethod
    def build_generator(cls, config: SuperResConfig) -> SuperResGenerator:  # type: ignore[override]
        return SuperResGenerator(1, config.features, config.growth, config.n_blocks, spectral=config.spectral,
                                 input_skip=config.input_skip)

    def receptive_halo(self) -> int:
        """A practical halo (64 px): the theoretical radius (~430 px) would make tiles all halo;
        benchmarks/bench_superres.py measures the resulting seam error."""
        return 64

    # ----- prediction -------------------------------------------------------------------------
    def predict(self, image: Any, *, tile: int | None = None, progress: ProgressFn | None = None,
                precision: str = "fp32", halo: int | None = None, scale: int = 1,
                batch_size: int | None = None) -> np.ndarray:
        """Enhance a 2-D image or a (T, Y, X) time series (numpy or dask); the input is not modified.

        ``scale=1``: the input is already re-upscaled to the target size (Y = U(D X)); the output
        has its size. ``scale=4``: the input is the low-resolution image; each frame is bicubic
        up-sampled by 4 first and the output is 4x larger per axis. Frames go through the
        network in batches (``batch_size``; default as many as fit the memory budget, at most
        8); frames too large for the budget go one at a time in tiles. Every frame uses the
        intensity mapping of the whole input, and results come back in the input's dtype.
        """
        image = as_numeric(image)
        check_image(image, channels=1)
        if not 1 <= int(scale) <= 8:
            raise InvalidInput(f"scale must be 1 (re-upscaled input) or the up-sampling factor (4), got {scale}")
        rng = intensity_range(image)
        frames = image.reshape(-1, *image.shape[-2:])
        count = frames.shape[0]
        height, width = (side * int(scale) for side in image.shape[-2:])

        def network_input(frame: Any) -> np.ndarray:
            frame = np.asarray(frame, np.float32)
            return upsample(frame, int(scale)) if scale != 1 else frame

        tile = tile if tile is not None else self.choose_tile(height, width)
        out = np.empty((count, height, width), rng.dtype)
        if tile is not None and (tile < height or tile < width):  # large frames: one at a time, tiled
            for index in range(count):
                report = None if progress is None else \
                    (lambda done, total, i=index: progress(i * total + done, total * count))
                out[index] = self._predict_plane(network_input(frames[index]), rng, tile=tile, progress=report,
                                                 precision=precision, halo=halo)
        else:
            if batch_size is None:
                per_frame = height * width * self.bytes_per_pixel()
                batch_size = int(max(1, min(8, memory_budget_bytes(self.device) // max(per_frame, 1))))
            for start in range(0, count, batch_size):
                block = np.stack([rng.to_network(network_input(f)) for f in frames[start : start + batch_size]])
                result = predict_whole(self.generator, block[:, None], stride=self.stride, device=self.device,
                                       precision=precision)
                out[start : start + batch_size] = self.finish_output(result[:, 0], rng)
                if progress is not None:
                    progress(min(start + batch_size, count), count)
        return out.reshape(*image.shape[:-2], height, width)

    def finish_output(self, out: np.ndarray, rng: IntensityRange) -> np.ndarray:
        """Back through the input's mapping; clipped only to the dtype (detail may exceed Y's range)."""
        out = out[0] if out.ndim == 3 and out.shape[0] == 1 else out
        return rng.from_network(out, clip_to_range=False)

    # ----- training ---------------------------------------------------------------------------
    def train(self, dataset_or_dirs: Any = "synthetic", config: SuperResConfig | None = None, *,
              callbacks: tuple[Callback, ...] | list[Callback] = (), run_dir: str | os.PathLike | None = None,
              device: str | None = None, resume: bool = True) -> Path:
        """Stage 1 (pre-training) then stage 2 (fine-tuning with early stopping); return the weights.

        ``dataset_or_dirs``: high-resolution images for stage 2: ``"synthetic"``, a folder, an
        image file, an array or a list of arrays (layers' data). Low-resolution partners are
        made by the degradation model. ``run_dir/pretrain`` and ``run_dir/finetune`` hold each
        stage's checkpoints; a run resumes where it stopped unless ``resume`` is False.
        """
        run = self.begin_training(dataset_or_dirs, config, run_dir, device)
        config, torch_device, run_dir, synthetic = run.config, run.device, run.run_dir, run.synthetic
        if synthetic:
            high_images = synthetic_images(config.synthetic_images, config.synthetic_size, config.seed)
            data_note = (f"{config.synthetic_images} synthetic {config.synthetic_size}px NIR vessel images "
                         f"(seeds {config.seed}-{config.seed + config.synthetic_images - 1})")
        else:
            high_images = grey_planes(load_domain(run.sources[0]))
            data_note = f"{len(high_images)} user high-resolution images"
            user_images = high_images
            if config.synthetic_mix:
                high_images = high_images + synthetic_images(config.synthetic_mix, config.synthetic_size,
                                                             config.seed)
                data_note += f" and {config.synthetic_mix} synthetic {config.synthetic_size}px NIR vessel images"
        pairs = self._training_pairs(config, high_images)
        validation = self._validation_pairs(config, high_images if synthetic else user_images, synthetic)
        noise = f", Poisson noise at {config.photons} photons" if config.photons else ""
        degradation = f"bicubic down x{config.scale}, bicubic up{noise}"
        if config.degradation is not None:
            degradation = (f"{config.degraded_copies} per image: lens blur, bicubic down x{config.scale}, camera "
                           f"Poisson-Gaussian noise and quantisation (fitted NIR optics, jittered), bicubic up; "
                           f"{config.bicubic_share:.0%} bicubic only")
        provenance = {**run.provenance, "degradation": degradation, "perceptual": config.perceptual}

        generator = init_weights(self.build_generator(config), seed=config.seed)
        if config.init_weights is not None:
            self.start_from(generator, config.init_weights)
            provenance["init_weights"] = str(config.init_weights)
        weights: Path | None = None
        if config.steps > 0 and config.pretrain_data != "none":
            stage1 = natural_images() if config.pretrain_data == "natural" else high_images
            stage1_pairs = [make_pair(image, config, seed=i) for i, image in enumerate(stage1)]
            model = self._model(config, config.pretrain_loss, generator, config.lr, torch_device, seed=1)
            weights = fit(model, lambda start: batches_of(
                              stage1_pairs, patch_size=config.patch_size, batch_size=config.batch_size,
                              seed=run.batch_seed(start)),
                          run_dir / "pretrain", self._settings(config, config.steps, resume), callbacks=callbacks,
                          provenance={**provenance, "stage": "pretrain",
                                      "training_data": f"{config.pretrain_data} images ({len(stage1)})"})
        if config.finetune_steps > 0:
            model = None  # release stage 1's DDP wrappers (gradient hooks) before stage 2 wraps the generator
            gc.collect()
            model = self._model(config, config.finetune_loss, generator, config.finetune_lr, torch_device, seed=2,
                                best=BestGenerator(generator))
            stopper = EarlyStopping(model, validation, config.validate_every, config.patience)
            settings = self._settings(config, config.finetune_steps, resume)
            settings.schedule, settings.decay_steps = "constant", 0
            weights = fit(model, lambda start: batches_of(
                              pairs, patch_size=config.finetune_patch_size, batch_size=config.batch_size,
                              seed=run.batch_seed(start, offset=104729)),
                          run_dir / "finetune", settings, callbacks=[stopper, *callbacks],
                          provenance={**provenance, "stage": "finetune", "training_data": data_note,
                                      "validation": f"{len(validation)} held-out images, early stop on PSNR"})
        if weights is None:
            raise InvalidInput("nothing to train: both stages have 0 steps")
        return self.finish_training(run, weights, type(self).load(weights, device=torch_device).generator)

    @staticmethod
    def _settings(config: SuperResConfig, steps: int, resume: bool) -> TrainerSettings:
        return TrainerSettings(total_steps=steps, checkpoint_every=config.checkpoint_every, schedule=config.schedule,
                               decay_steps=min(config.decay_steps, steps), step_size=config.step_size,
                               gamma=config.gamma, resume=resume)

    @staticmethod
    def _model(config: SuperResConfig, weights: LossWeights, generator: nn.Module, lr: float,
               device: torch.device, *, seed: int, best: BestGenerator | None = None) -> SuperResGAN:
        discriminator = PatchDiscriminator(1, config.ndf, config.n_layers_d, norm="none", spectral=config.spectral)
        return SuperResGAN("superres", config, weights, generator=generator,
                           discriminator=init_weights(discriminator, seed=config.seed + seed), lr=lr, device=device,
                           best=best)

    @staticmethod
    def _training_pairs(config: SuperResConfig, high_images: list[np.ndarray]) -> list[np.ndarray]:
        """Stage-2 pairs: ``degraded_copies`` of each image; with real optics, a ``bicubic_share``
        of them (chosen by a seeded draw) bicubic only."""
        if config.degradation is None and config.degraded_copies == 1:
            return [make_pair(image, config, seed=config.seed + i) for i, image in enumerate(high_images)]
        draw = np.random.default_rng(config.seed + 7)
        pairs = []
        for i, image in enumerate(high_images):
            for copy_index in range(config.degraded_copies):
                realistic = config.degradation is not None and bool(draw.random() >= config.bicubic_share)
                pairs.append(make_pair(image, config, seed=config.seed + 1000 * copy_index + i, realistic=realistic))
        return pairs

    @staticmethod
    def _validation_pairs(config: SuperResConfig, high_images: list[np.ndarray], synthetic: bool) -> list[np.ndarray]:
        """Held-out synthetic pairs (seeds 1.5e6 + i) or, for user data, the last tenth of it (with
        ``synthetic_mix``, held-out synthetic pairs too); with real optics each image twice, through
        the realistic degradation and through bicubic alone, so early stopping guards both."""
        images = []
        if synthetic or config.synthetic_mix:
            images = synthetic_images(config.validation_images, 256 if config.synthetic_size >= 256
                                      else config.synthetic_size, VALIDATION_SEED_BASE)
        if not synthetic:
            images = images + high_images[-max(1, len(high_images) // 10):]
        pairs = [make_pair(image, config, seed=VALIDATION_SEED_BASE + i) for i, image in enumerate(images)]
        if config.degradation is not None:
            pairs += [make_pair(image, config, seed=VALIDATION_SEED_BASE + i, realistic=False)
                      for i, image in enumerate(images)]
        return pairs
