"""`fundus2video`: colour fundus photo -> FFA video, autoregressive and knowledge-mask guided (card 3).

Fundus2Video (MICCAI 2024) on pix2pixHD. The generator G (pix2pixHD's global generator) takes
6 channels, the fundus photo and a 3-channel condition, and returns 3 consecutive frames.
Window n predicts frames [n, n+1, n+2] (clamped to the last frame) from the photo and a
condition that is the photo itself for n = 0 and the previous window's 3 frames afterwards,
so any number of frames comes out one window at a time. Each frame is averaged over the
windows that predicted it (triple-frame averaging: frame 0 once, frame 1 twice, every other
frame three times), and is final as soon as its last window ran, so prediction holds one
window and at most three partial sums whatever the video's length.

Training (one step = one window of a batch of registered random crops of (photo, video)):
- scheduled sampling: the condition of window n is the true previous window with probability
  p (falling linearly from ``teacher_forcing_start`` to ``teacher_forcing_end`` over the run;
  the paper "randomly selects generated or ground-truth frames"), otherwise G's own output
  for window n - 1, itself conditioned by the same rule (rolled out without gradients);
- knowledge mask M = 1[|first - last| > 45] (0-255) of the true video (``analysis.knowledge_mask``);
- L = L_GAN + feature matching (pix2pixHD, x10) [+ VGG19 x10 when ``perceptual``]
  + 1 L_att + 1 L_UP + 4 L_SP + 2 L_KD (Eq. 7), where
  L_att is the knowledge-boosted attention loss (``losses.knowledge_attention``),
  L_UP / L_SP the mask-enhanced PatchNCE with the photo / the true frames as keys
  (``losses.patchnce``, the projector trained with G), and
  L_KD the adversarial term of the knowledge-aware discriminators: the same three-scale
  PatchGANs on mask-weighted frames (black outside M), as the authors' code shares them.
  The discriminators see (photo, 3 frames); least squares GAN, pix2pixHD's default.
The ``baseline`` preset switches the four knowledge-mask terms off (Table 1's first
Fundus2Video row), for the ablation. Sizes: the default is small (ngf 16, 3 down-samplings,
4 blocks: 1.38 M parameters) so it trains on a CPU; the ``paper`` preset is pix2pixHD's
(ngf 64, 4 down-samplings, 9 blocks: 182 M parameters) with the paper's optimiser settings.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from napari_vesselgan import InvalidInput
from napari_vesselgan.analysis.knowledge_mask import knowledge_mask, to_255
from napari_vesselgan.data.intensity import intensity_range
from napari_vesselgan.data.patches import paired_batches, prepare_images
from napari_vesselgan.data.sources import load_domain
from napari_vesselgan.engine.device import autocast
from napari_vesselgan.engine.distributed import Distributed
from napari_vesselgan.engine.trainer import Callback, fit
from napari_vesselgan.losses.adversarial import GANLoss
from napari_vesselgan.losses.knowledge_attention import knowledge_attention_loss
from napari_vesselgan.losses.patchnce import PatchProjector, patch_nce_loss
from napari_vesselgan.methods.base import RESUME_SEED_STRIDE, Method, ProgressFn, as_numeric, check_image, is_synthetic
from napari_vesselgan.evaluation.common import FUNDUS2VIDEO_HELD_OUT_SEED_BASE
from napari_vesselgan.methods.config import TrainingConfig
from napari_vesselgan.methods.options import LayerKind, PredictOptions, TrainingSource
from napari_vesselgan.methods.cyclegan import set_requires_grad
from napari_vesselgan.methods.fundus2ffa import field_of_view
from napari_vesselgan.metrics.video import video_set
from napari_vesselgan.nn import GlobalGenerator, MultiscaleDiscriminator, init_weights

if TYPE_CHECKING:
    from napari_vesselgan.methods.request import PredictionRequest

WINDOW = 3  # frames per generator step
REAL_PHOTO_SEED_OFFSET = 50_000  # the rendered videos of real photos draw their noise from seeds apart
# pix2pixHD's VGG loss: L1 of VGG19 relu1_1 .. relu5_1 features, weighted 1/32 .. 1
VGG_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


class Fundus2VideoConfig(TrainingConfig):
    """Networks, losses and training of `fundus2video`."""

    SYNTHETIC_COUNT_FIELD: ClassVar[str | None] = "synthetic_videos"
    SYNTHETIC_SEED_LIMIT: ClassVar[int | None] = FUNDUS2VIDEO_HELD_OUT_SEED_BASE

    ngf: int = Field(16, ge=4, le=256, description="Generator width (paper: 64).")
    n_downsampling: int = Field(3, ge=1, le=6, description="Generator down-samplings (paper: 4).")
    n_blocks: int = Field(4, ge=1, le=32, description="Residual blocks of the generator (paper: 9).")
    ndf: int = Field(16, ge=4, le=256, description="Discriminator width (paper: 64).")
    n_layers_d: int = Field(3, ge=1, le=5, description="Stride-2 layers of each PatchGAN.")
    num_d: int = Field(3, ge=1, le=4, description="Discriminator scales (paper: 3, at 1, 1/2, 1/4).")
    frames: int = Field(12, ge=3, description="Frames per training video (the paper's 4 per phase); "
                                              "user videos are resampled to it, evenly in time.")
    lambda_feat: float = Field(10.0, ge=0, description="Discriminator feature matching weight (pix2pixHD).")
    lambda_l1: float = Field(0.0, ge=0, description="L1 to the true frames (not in the paper; 0 = off).")
    perceptual: bool = Field(False, description="pix2pixHD's VGG19 loss (needs ImageNet VGG19 weights).")
    perceptual_weights: str | None = Field(
        None, description="VGG19 weights: None = ImageNet (hub cache or download), a file path, or 'random'.")
    lambda_perceptual: float = Field(10.0, ge=0, description="Weight of the VGG19 loss (pix2pixHD: 10).")
    lambda_attention: float = Field(1.0, ge=0, description="Knowledge-boosted attention loss (Eq. 7: 1).")
    lambda_nce_unsupervised: float = Field(1.0, ge=0, description="Mask-enhanced unsupervised PatchNCE (Eq. 7: 1).")
    lambda_nce_supervised: float = Field(4.0, ge=0, description="Mask-enhanced supervised PatchNCE (Eq. 7: 4).")
    lambda_knowledge_d: float = Field(2.0, ge=0, description="Knowledge-aware discriminators (Eq. 7: 2).")
    knowledge_threshold: float = Field(45.0, ge=0, le=255, description="Knowledge mask threshold, 0-255 scale.")
    nce_patches: int = Field(256, ge=8, description="Patches per layer in PatchNCE.")
    nce_temperature: float = Field(0.07, gt=0, description="PatchNCE temperature.")
    teacher_forcing_start: float = Field(1.0, ge=0, le=1, description="P(true previous frames) at the start.")
    teacher_forcing_end: float = Field(0.5, ge=0, le=1, description="P(true previous frames) at the end.")
    working_size: int | None = Field(
        None, ge=32, description="Prediction resizes each photo so its longer side is this many pixels (the "
                                 "scale the network learned; the paper resizes to 512) and the video back; "
                                 "None: the photo's own size. Synthetic training sets it to synthetic_size.")
    synthetic_videos: int = Field(48, ge=1, description="Videos when training on synthetic data.")
    synthetic_size: int = Field(192, ge=32, description="Side of each synthetic training video in pixels.")
    synthetic_style: Literal["classic", "fitted"] = Field(
        "classic", description="The synthetic eyes' look: the classic renderer or the style fitted to real images "
                               "(data.fundus.FITTED_FUNDUS_STYLE / FITTED_FFA_STYLE).")
    synthetic_leakage: list[str] = Field(
        default_factory=lambda: ["none", "optic_disc", "large_focal", "punctate_focal"],
        description="Leakage kinds the synthetic eyes cycle through (data.fundus.LEAKAGE_KINDS; repeat a kind to "
                    "make it more common, leave one out to never show it).")
    init_weights: str | None = Field(
        None, description="Start the generator from these fundus2video weights ('bundled': the bundled default) "
                          "to fine-tune it; None: from scratch.")
    real_photos: list[str] = Field(
        default_factory=list,
        description="Real fundus photos (files or folders; grey red-free / infrared ones are coloured) added to the "
                    "training pairs with the FFA video rendered from each photo's own vessel tree "
                    "(data.eye_from_photo): the structure from the real photo, the dye's dynamics from the renderer.")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        # pix2pixHD's sizes; Adam 2e-3 with a step every 50 iterations (the paper does not give the
        # factor: 0.99 is ours), batch 1, 512 px, 50 epochs of 245 twelve-frame videos
        "paper": {"ngf": 64, "n_downsampling": 4, "n_blocks": 9, "ndf": 64, "patch_size": 512, "working_size": 512,
                  "synthetic_size": 512, "synthetic_videos": 245, "perceptual": True, "lr": 2e-3,
                  "schedule": "step", "step_size": 50, "gamma": 0.99, "steps": 147_000, "decay_steps": 0},
        "baseline": {"lambda_attention": 0.0, "lambda_nce_unsupervised": 0.0, "lambda_nce_supervised": 0.0,
                     "lambda_knowledge_d": 0.0},
        "test": {"ngf": 8, "n_downsampling": 2, "n_blocks": 1, "ndf": 8, "num_d": 2, "patch_size": 64,
                 "steps": 4, "decay_steps": 2, "checkpoint_every": 2, "synthetic_videos": 2,
                 "synthetic_size": 64, "frames": 4, "nce_patches": 16},
    }

    @property
    def patch_multiple(self) -> int:
        """The generator's stride, 2**n_downsampling."""
        return 2**self.n_downsampling

    @property
    def knowledge_terms(self) -> bool:
        return any(w > 0 for w in (self.lambda_attention, self.lambda_nce_unsupervised,
                                   self.lambda_nce_supervised, self.lambda_knowledge_d))


# ----- data ----------------------------------------------------------------------------------
class Fundus2VideoOptions(PredictOptions):
    """fundus2video's prediction options."""

    FILE_OPTIONS: ClassVar[frozenset[str]] = frozenset({"fps"})

    frames: int = Field(12, ge=1, description="frames of the video (the paper's 12: 4 per phase)")
    fps: float = Field(4.0, gt=0, description="frames per second of an .mp4 / .avi output")

    def unused(self, *, folder: bool, target: Path) -> dict[str, str]:
        """The frame rate is written into video files only (a folder gets TIFF stacks)."""
        from napari_vesselgan.io.writers import VIDEO_SUFFIXES, suffix_of

        if "fps" in self.model_fields_set and (folder or suffix_of(target) not in VIDEO_SUFFIXES):
            return {"fps": f"applies to a video output ({', '.join(VIDEO_SUFFIXES)})"}
        return {}


def window_frames(n: int, total: int) -> list[int]:
    """Frame indices of window ``n``: [n, n+1, n+2], clamped to the last frame."""
    return [min(n + k, total - 1) for k in range(WINDOW)]


def video_to_network(video: np.ndarray) -> np.ndarray:
    """A (T, Y, X) FFA video as float32 in [-1, 1] by ONE mapping for all frames (0-255 scale of
    ``analysis.knowledge_mask``: uint8 as is, other integers by the dtype's range, floats in
    [0, 1] as they are, other floats by the video's min..max), so the dye's rise keeps its meaning."""
    video = np.asarray(video)
    if video.ndim == 4 and video.shape[-1] in (3, 4):
        video = video[..., 1]  # green channel, as FFA cameras record fluorescein
    if video.ndim != 3 or video.shape[0] < 2:
        raise InvalidInput(f"an FFA video must be (T, Y, X) with T >= 2 frames, got shape {video.shape}")
    first, rest = to_255(video[:1], video[1:])
    return np.concatenate([first, rest]) / 127.5 - 1.0


def resample_frames(video: np.ndarray, frames: int) -> np.ndarray:
    """``frames`` frames of ``video`` evenly spaced in time (first and last kept)."""
    if len(video) == frames:
        return video
    return video[np.round(np.linspace(0, len(video) - 1, frames)).astype(int)]


def synthetic_videos(config: Fundus2VideoConfig, seed: int | None = None,
                     count: int | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(fundus photos, FFA videos) of synthetic eyes, seeds ``seed ..``; leakage kinds cycle."""
    from napari_vesselgan.data.fundus import LEAKAGE_KINDS, eye_styles, fundus_video

    kinds = config.synthetic_leakage
    unknown = sorted(set(kinds) - set(LEAKAGE_KINDS))
    if not kinds or unknown:
        raise InvalidInput(f"synthetic_leakage takes kinds from {', '.join(LEAKAGE_KINDS)}; got {kinds!r}")
    styles = eye_styles(config.synthetic_style == "fitted")
    seed = config.seed if seed is None else seed
    count = config.synthetic_videos if count is None else count
    size = config.synthetic_size
    photos, videos = [], []
    for index in range(count):
        sample = fundus_video((size, size), seed + index, frames=config.frames,
                              leakage=kinds[index % len(kinds)], **styles)
        photos.append(sample.fundus)
        videos.append(sample.video)
    return photos, videos


def real_photo_videos(config: Fundus2VideoConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(photos, rendered videos) of the ``real_photos`` sources, each photo resized so its longer side is
    the working size (the scale prediction runs at); every photo's video has its own noise seed."""
    from skimage.transform import resize

    from napari_vesselgan.data.eye_from_photo import photo_video
    from napari_vesselgan.metrics.distribution import to_unit_image

    side = config.working_size or config.synthetic_size
    photos, videos = [], []
    for source in config.real_photos:
        for image in load_domain(source):
            image = to_unit_image(as_numeric(image))  # (1 or 3, Y, X) in [0, 1]
            image = image[0] if len(image) == 1 else np.moveaxis(image, 0, -1)  # photo_video colours grey ones
            factor = side / max(image.shape[:2])
            shape = (max(1, round(image.shape[0] * factor)), max(1, round(image.shape[1] * factor)))
            image = resize(image, shape + image.shape[2:], order=1, anti_aliasing=factor < 1).astype(np.float32)
            sample = photo_video(image, config.seed + REAL_PHOTO_SEED_OFFSET + len(photos), frames=config.frames)
            photos.append(sample.fundus)
            videos.append(sample.video)
    return photos, videos


def training_arrays(photos: list[np.ndarray], videos: list[np.ndarray],
                    config: Fundus2VideoConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Photos as (3, H, W) in [-1, 1]; targets as (T + 1, H, W): the video in [-1, 1] and its knowledge mask."""
    from skimage.transform import resize

    if len(photos) != len(videos):
        raise InvalidInput(f"{len(photos)} fundus photos but {len(videos)} FFA videos: they must pair one to one")
    inputs, targets = [], []
    for index, (photo, video) in enumerate(zip(photos, videos, strict=True)):
        video = resample_frames(np.asarray(video), config.frames)
        network_video = video_to_network(video)
        mask = knowledge_mask(video[0], video[-1], config.knowledge_threshold).astype(np.float32)
        photo = np.asarray(photo)
        if photo.shape[:2] != network_video.shape[1:]:  # registered, but taken at another size
            photo = resize(photo, network_video.shape[1:], order=1, anti_aliasing=True, preserve_range=True)
        try:
            inputs.append(prepare_images([photo], channels=3)[0])
        except ValueError as error:
            raise InvalidInput(f"fundus photo {index}: {error}") from None
        targets.append(np.concatenate([network_video, mask[None] * 2.0 - 1.0]).astype(np.float32))
    return inputs, targets


# ----- training ------------------------------------------------------------------------------
class Fundus2VideoGAN:
    """Generator, discriminators, projector, their optimisers and one window step; a :class:`Trainable`."""

    method = "fundus2video"

    def __init__(self, config: Fundus2VideoConfig, *, device: torch.device, features: nn.Module | None = None):
        self.config, self.device = config, device
        self.g = init_weights(Fundus2VideoMethod.build_generator(config), seed=config.seed).to(device)
        self.d = init_weights(MultiscaleDiscriminator(3 + WINDOW, config.ndf, config.n_layers_d, config.num_d),
                              seed=config.seed + 1).to(device)
        self.nce_layers = self.g.nce_layers()
        self.projector = PatchProjector(self.g.nce_channels()).to(device)
        self.features = features.to(device) if features is not None else None
        self.gan = GANLoss("lsgan").to(device)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(list(self.g.parameters()) + list(self.projector.parameters()),
                                      lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=config.lr, betas=betas)
        # What the steps call to train the networks (DDP wrappers under torchrun, see distribute).
        self.train_g_features, self.train_g_encode = self.g.forward_with_features, self.g.encode
        self.train_d, self.train_projector = self.d, self.projector

    def distribute(self, group: Distributed) -> None:
        """Train with DistributedDataParallel in ``group``: generator, discriminator and projector
        wrapped one by one (the generator step runs the frozen discriminator unwrapped). PatchNCE
        draws its patches per rank, so unlike the other methods the run is not identical to one
        process's."""
        size = self.config.batch_size
        calls = group.wrap_methods(self.g, size, ("forward_with_features", "encode"))
        self.train_g_features, self.train_g_encode = calls["forward_with_features"], calls["encode"]
        self.train_d, self.train_projector = group.wrap(self.d, size), group.wrap(self.projector, size)

    # Trainable ---------------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.g, "discriminator": self.d, "projector": self.projector}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}

    def inference_networks(self) -> dict[str, nn.Module]:
        return {"generator": self.g}

    def config_dict(self) -> dict[str, Any]:
        return self.config.model_dump()

    # the step -------------------------------------------------------------------------------------
    def condition(self, photo: torch.Tensor, video: torch.Tensor, n: int, teacher: torch.Tensor) -> torch.Tensor:
        """Window n's condition under scheduled sampling (``teacher[k]``: window k sees true frames)."""
        start = n
        while start > 0 and not bool(teacher[start]):
            start -= 1
        total = video.shape[1]
        condition = photo if start == 0 else video[:, window_frames(start - 1, total)]
        if start < n:
            with torch.no_grad():
                for _ in range(start, n):
                    condition = self.g(torch.cat([photo, condition], dim=1))
        return condition

    def _masked(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Frames in [-1, 1] weighted by M in intensity (black outside the mask)."""
        return (frames + 1.0) * mask - 1.0

    def _d_loss(self, photo, real, fake, weight: float = 1.0, mask=None) -> torch.Tensor:
        if mask is not None:
            real, fake = self._masked(real, mask), self._masked(fake, mask)
        pred_real = self.train_d(torch.cat([photo, real], dim=1))
        pred_fake = self.train_d(torch.cat([photo, fake.detach()], dim=1))
        loss = sum(self.gan(r[-1], True) + self.gan(f[-1], False) for r, f in zip(pred_real, pred_fake, strict=True))
        return weight * 0.5 * loss / len(pred_real)

    def generator_losses(self, photo, real, fake, features, mask) -> dict[str, torch.Tensor]:
        """The generator's weighted loss terms (Eq. 7 and pix2pixHD's)."""
        cfg = self.config
        pred_fake = self.d(torch.cat([photo, fake], dim=1))
        losses = {"G_GAN": sum(self.gan(p[-1], True) for p in pred_fake) / len(pred_fake)}
        if cfg.lambda_feat > 0:
            with torch.no_grad():
                pred_real = self.d(torch.cat([photo, real], dim=1))
            weight = cfg.lambda_feat * 4.0 / (cfg.n_layers_d + 1) / cfg.num_d
            losses["G_feat"] = weight * sum(
                torch.nn.functional.l1_loss(f, r) for pf, pr in zip(pred_fake, pred_real, strict=True)
                for f, r in zip(pf[:-1], pr[:-1], strict=True))
        if cfg.lambda_l1 > 0:
            losses["L1"] = cfg.lambda_l1 * torch.nn.functional.l1_loss(fake, real)
        if self.features is not None and cfg.lambda_perceptual > 0:
            # each frame through VGG as a grey image repeated to RGB
            as_rgb = lambda v: v.flatten(0, 1)[:, None].expand(-1, 3, -1, -1)  # noqa: E731
            fake_f, real_f = self.features(as_rgb(fake)), self.features(as_rgb(real))
            losses["G_VGG"] = cfg.lambda_perceptual * sum(
                w * torch.nn.functional.l1_loss(f, r.detach())
                for w, f, r in zip(VGG_LAYER_WEIGHTS, fake_f, real_f, strict=True))
        if cfg.lambda_attention > 0:
            losses["att"] = cfg.lambda_attention * knowledge_attention_loss(features, mask)
        if cfg.lambda_nce_unsupervised > 0 or cfg.lambda_nce_supervised > 0:
            doubled = lambda v: torch.cat([v, v], dim=1)  # noqa: E731 - 3 channels into the 6-channel encoder
            query = self.train_g_encode(doubled(fake), self.nce_layers)
            nce = dict(mask=mask, num_patches=cfg.nce_patches, temperature=cfg.nce_temperature)
            if cfg.lambda_nce_unsupervised > 0:
                keys = self.train_g_encode(doubled(photo), self.nce_layers)
                losses["NCE_UP"] = cfg.lambda_nce_unsupervised * patch_nce_loss(query, keys, self.train_projector, **nce)
            if cfg.lambda_nce_supervised > 0:
                keys = self.train_g_encode(doubled(real), self.nce_layers)
                losses["NCE_SP"] = cfg.lambda_nce_supervised * patch_nce_loss(query, keys, self.train_projector, **nce)
        if cfg.lambda_knowledge_d > 0:
            pred = self.d(torch.cat([photo, self._masked(fake, mask)], dim=1))
            losses["G_KD"] = cfg.lambda_knowledge_d * sum(self.gan(p[-1], True) for p in pred) / len(pred)
        return losses

    def train_step(self, batch) -> dict[str, float]:
        photo, video, mask, n, teacher = batch
        photo, video = photo.to(self.device, non_blocking=True), video.to(self.device, non_blocking=True)
        mask = (mask.to(self.device) > 0).float()
        n, cfg = int(n), self.config
        real = video[:, window_frames(n, video.shape[1])]
        with autocast(self.device, cfg.precision):
            condition = self.condition(photo, video, n, teacher)
            fake, features = self.train_g_features(torch.cat([photo, condition], dim=1))
            set_requires_grad([self.d], True)
            loss_d = self._d_loss(photo, real, fake)
            if cfg.lambda_knowledge_d > 0:
                loss_d = loss_d + self._d_loss(photo, real, fake, cfg.lambda_knowledge_d, mask)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        set_requires_grad([self.d], False)
        with autocast(self.device, cfg.precision):
            losses = self.generator_losses(photo, real, fake, features, mask)
            loss_g = sum(losses.values())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        set_requires_grad([self.d], True)
        report = {"G": float(loss_g.detach()), "D": float(loss_d.detach())}
        report.update({k: float(v.detach()) for k, v in losses.items()})
        return report


def teacher_probability(config: Fundus2VideoConfig, step: int) -> float:
    """P(the condition is the true previous window) at ``step``: linear from start to end over the run."""
    progress = min(step / max(config.steps - 1, 1), 1.0)
    return config.teacher_forcing_start + (config.teacher_forcing_end - config.teacher_forcing_start) * progress


def window_batches(inputs, targets, config: Fundus2VideoConfig, start: int) -> Iterator[tuple]:
    """Endless (photo, video, mask, window n, teacher coins) batches, repeatable from ``start``."""
    stream = paired_batches(inputs, targets, patch_size=config.patch_size, batch_size=config.batch_size,
                            seed=config.seed + RESUME_SEED_STRIDE * start)
    rng = np.random.default_rng([config.seed, start, 17])
    for step, (photo, target) in enumerate(stream, start):
        frames = target.shape[1] - 1
        n = int(rng.integers(frames))
        teacher = torch.from_numpy(rng.random(frames) < teacher_probability(config, step))
        yield photo, target[:, :frames], target[:, frames:], n, teacher


def perceptual_features(config: Fundus2VideoConfig) -> tuple[nn.Module | None, str]:
    """pix2pixHD's VGG19 trunk (``VGG_LAYERS``) or None, and a note of which weights it has."""
    if not config.perceptual or config.lambda_perceptual == 0:
        return None, "off"
    from napari_vesselgan.nn.pretrained import loss_features

    return loss_features("vgg19", VGG_LAYERS, config.perceptual_weights, signed=True)


# ----- the method ----------------------------------------------------------------------------
class Fundus2VideoMethod(Method):
    """RGB fundus photo (Y, X, 3) -> FFA video, float32 (T, Y, X) in [0, 1], black outside the field of view."""

    name: ClassVar[str] = "fundus2video"
    kind: ClassVar[str] = "translation"
    config_class: ClassVar[type[TrainingConfig]] = Fundus2VideoConfig
    in_channels: ClassVar[int] = 3
    out_channels: ClassVar[int] = WINDOW
    verb: ClassVar[str] = "Generating the video"
    summary: ClassVar[str] = "colour fundus photo -> FFA video, frame by frame (knowledge-mask guided pix2pixHD)"
    input_kind: ClassVar[LayerKind] = "rgb"
    output_kind: ClassVar[Literal["image", "video"]] = "video"
    options_class: ClassVar[type[PredictOptions]] = Fundus2VideoOptions
    saliency_kinds: ClassVar[tuple[str, ...]] = ()
    training_sources: ClassVar[tuple[TrainingSource, ...]] = (
        TrainingSource("domain_a", "Fundus photos (colour)", "folder or image of colour fundus photos",
                       layer_kinds=("rgb",)),
        TrainingSource("domain_b", "FFA videos (T, Y, X), registered to the photos, same order",
                       "folder of FFA videos (TIFF stacks, MP4, AVI), in the photos' order", layer_kinds=("video",)),
    )
    evaluation: ClassVar[str | None] = "fundus2video"

    @classmethod
    def build_generator(cls, config: Fundus2VideoConfig) -> nn.Module:  # type: ignore[override]
        return GlobalGenerator(3 + WINDOW, WINDOW, ngf=config.ngf, n_downsampling=config.n_downsampling,
                               n_blocks=config.n_blocks)

    def iter_frames(self, image: Any, *, frames: int = 12, tile: int | None = None, precision: str = "fp32",
                    halo: int | None = None, mask_fov: bool = True) -> Iterator[np.ndarray]:
        """The FFA video of one RGB photo, frame by frame: each float32 (Y, X) in [0, 1] as soon as it is final."""
        image = as_numeric(image)
        check_image(image, channels=3)
        if image.ndim != 3:
            raise InvalidInput(f"iter_frames takes one RGB photo (Y, X, 3), got shape {tuple(image.shape)}")
        if int(frames) < 1:
            raise InvalidInput(f"frames must be at least 1, got {frames}")
        frames = int(frames)
        image = np.asarray(image)
        height, width = image.shape[:2]
        photo = intensity_range(image).to_network(image)
        working = self.config.working_size
        if working is not None and max(height, width) != working:
            from skimage.transform import resize

            factor = working / max(height, width)
            shape = (max(1, round(height * factor)), max(1, round(width * factor)))
            photo = resize(photo, shape, order=1, anti_aliasing=factor < 1, preserve_range=True).astype(np.float32)
            back = lambda frame: resize(frame, (height, width), order=1, preserve_range=True)  # noqa: E731
        else:
            back = None
        photo = np.moveaxis(photo, -1, 0)
        fov = field_of_view(image) if mask_fov else None
        sums: dict[int, np.ndarray] = {}
        counts: dict[int, int] = {}
        condition = photo
        for n in range(frames):
            network_input = np.concatenate([photo, condition])
            window = self.run_generator(lambda y0, y1, x0, x1: network_input[:, y0:y1, x0:x1], network_input.shape,
                                        tile=tile, precision=precision, halo=halo)
            indices = window_frames(n, frames)
            for frame in sorted(set(indices)):
                prediction = window[[k for k, f in enumerate(indices) if f == frame]].mean(axis=0)
                sums[frame] = sums.get(frame, 0.0) + prediction
                counts[frame] = counts.get(frame, 0) + 1
            condition = window
            result = sums.pop(n) / counts.pop(n)
            if back is not None:
                result = back(result)
            result = np.clip((result + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
            if fov is not None:
                result[~fov] = 0.0
            yield result

    def predict(self, image: Any, *, frames: int = 12, tile: int | None = None, progress: ProgressFn | None = None,
                precision: str = "fp32", halo: int | None = None, mask_fov: bool = True) -> np.ndarray:
        """The FFA video (T, Y, X) of an RGB photo (or (..., T, Y, X) for a stack of photos (..., Y, X, 3)).

        ``progress(done, total)`` is called once per finished frame.
        """
        image = as_numeric(image)
        check_image(image, channels=3)
        photos = np.asarray(image).reshape(-1, *image.shape[-3:])
        frames = int(frames)
        # filled in place: the result and one window are all that is held, never a second copy
        videos = np.empty((len(photos), frames, *image.shape[-3:-1]), np.float32)
        for index, photo in enumerate(photos):
            for t, frame in enumerate(self.iter_frames(photo, frames=frames, tile=tile, precision=precision,
                                                       halo=halo, mask_fov=mask_fov)):
                videos[index, t] = frame
                if progress is not None:
                    progress(index * frames + t + 1, len(photos) * frames)
        return videos.reshape(*image.shape[:-3], frames, *image.shape[-3:-1])

    def predict_file(self, source: Path, target: Path, request: PredictionRequest) -> str:
        """The photo's FFA video written frame by frame (a TIFF stack, or MP4 / AVI by the output's
        extension), so memory holds one 3-frame window whatever the number of frames."""
        from napari_vesselgan.io import read_image
        from napari_vesselgan.io.writers import write_frames

        image = read_image(source)
        started = time.perf_counter()
        frames = request.options.frames
        write_frames(target, self.iter_frames(image, frames=frames, tile=request.tile, precision=request.precision,
                                              halo=request.halo), fps=request.options.fps)
        return (f"{source} -> {target} ({frames} frames of {image.shape[1]}x{image.shape[0]}, "
                f"{time.perf_counter() - started:.2f} s)")

    def saliency(self, image: np.ndarray, *, max_side: int = 1024) -> np.ndarray:
        raise NotImplementedError("gradient saliency is not offered for fundus2video; use the FFA saliency "
                                  "map or the knowledge mask of the predicted video")

    def train(self, dataset_or_dirs: Any = "synthetic", config: Fundus2VideoConfig | None = None, *,
              callbacks: tuple[Callback, ...] | list[Callback] = (), run_dir: str | os.PathLike | None = None,
              device: str | None = None, resume: bool = True) -> Path:
        """Train on registered (fundus photo, FFA video) pairs or ``"synthetic"``; return the exported weights.

        ``dataset_or_dirs`` is ``"synthetic"`` or a pair (photos, videos) of sources: folders,
        files, arrays or lists of arrays; videos are (T, Y, X) stacks (TIFF, MP4, AVI) in the
        photos' order. A ``run_dir`` holding ``last.safetensors`` resumes unless ``resume`` is False.
        """
        run = self.begin_training(dataset_or_dirs, config, run_dir, device)
        config = run.config
        if all(map(is_synthetic, run.sources)):
            if config.working_size is None:  # predict at the scale the synthetic eyes were drawn at
                config = config.model_copy(update={"working_size": config.synthetic_size})
                run = dataclasses.replace(run, config=config)
            photos, videos = synthetic_videos(config)
            data_note = (f"{config.synthetic_videos} synthetic {config.synthetic_size}px fundus photos with "
                         f"{config.frames}-frame FFA videos (data.fundus.fundus_video, {config.synthetic_style} "
                         f"style, leakage cycling {'/'.join(config.synthetic_leakage)}, seeds {config.seed}..{config.seed + config.synthetic_videos - 1})")
        else:
            photos, videos = load_domain(run.sources[0]), video_set(run.sources[1])
            data_note = f"{len(photos)} user fundus photo / FFA video pairs, resampled to {config.frames} frames"
        if config.real_photos:
            real_photos, real_videos = real_photo_videos(config)
            photos, videos = [*photos, *real_photos], [*videos, *real_videos]
            data_note += (f"; {len(real_photos)} real photos ({', '.join(config.real_photos)}) with videos rendered "
                          f"from their own vessel trees (data.eye_from_photo, fitted style)")
        inputs, targets = training_arrays(photos, videos, config)
        features, perceptual_note = perceptual_features(config)
        model = Fundus2VideoGAN(config, device=run.device, features=features)
        if config.init_weights is not None:  # a resumed run then loads its own last checkpoint over it
            data_note += f"; generator started from {self.start_from(model.g, config.init_weights)}"
        mask_area = float(np.mean([(t[-1] > 0).mean() for t in targets]))
        weights = fit(model, lambda start: window_batches(inputs, targets, config, start), run.run_dir,
                      config.trainer_settings(resume=resume), callbacks=callbacks, provenance={
                          "training_data": data_note, "perceptual_features": perceptual_note,
                          "knowledge_mask_area": round(mask_area, 4), **run.provenance})
        return self.finish_training(run, weights, model.g)
