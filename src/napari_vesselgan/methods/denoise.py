"""`denoise`: low-light NIR-II denoising with an unpaired CycleGAN (docs/methods.md card 4).

Domain A is low-light / noisy NIR-II, domain B clean NIR-II; the two need not be paired.
Networks: ResNet generators with 6 residual blocks (reflection pad, 7x7 conv, two
down-samplings, residual blocks, two up-samplings, tanh) and a 70x70 PatchGAN. Losses:
least-squares GAN + 10 x cycle L1 + 5 x identity L1, image pool 50, Adam 2e-4 (0.5, 0.999),
learning rate constant then linearly decayed. The paper's network width is the ``paper``
preset (ngf = ndf = 64); the default is narrower (ngf 16, ndf 32) so that it trains on a
laptop's CPU and ships as a small file. Prediction uses G_AB.

The ``real`` preset is for real NIR-IIa -> NIR-IIb frames, which are already close to their
target: a residual generator that starts as the identity (it learns a correction and cannot
lift the background unless a loss asks for it), and, when ``degradation`` holds the parameters
of the fitted NIR degradation (``data.nir_optics``), an L1 term on registered pairs made by
degrading every given domain-B image with it (first alone, ``pretrain_steps`` supervised steps
that warm-start both generators, then beside the CycleGAN's terms), plus ``synthetic_mix``
realistic synthetic images per domain. Domains A and B themselves stay unpaired, as in the paper.

Two bundled weight sets: ``denoise.safetensors`` (the ``real`` preset, trained on the real
nir2-mouse NIR-IIa frames; scripts/train_denoise_real.sh) and ``denoise-low-light.safetensors``
(the default preset trained on synthetic photon-limited images; scripts/train_denoise_low_light.sh).
With the bundled weights the prediction option ``input_kind`` (``auto``: measured, see
:func:`noise_level`) picks the set; with other weights it must stay ``auto``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from napari_vesselgan import InvalidInput
from napari_vesselgan.data.patches import paired_batches, prepare_images, unpaired_batches
from napari_vesselgan.data.sources import load_domain
from napari_vesselgan.engine.trainer import Callback, fit
from napari_vesselgan.methods.base import WEIGHTS_DIR, Method, ProgressFn, as_numeric, check_image, is_synthetic
from napari_vesselgan.methods.config import TrainingConfig
from napari_vesselgan.methods.cyclegan import CycleGAN, CycleGANConfig
from napari_vesselgan.methods.options import PredictOptions, TrainingSource
from napari_vesselgan.nn import PatchDiscriminator, ResnetGenerator, init_weights


class DenoiseConfig(CycleGANConfig):
    """Networks, losses and training of `denoise` (the CycleGAN fields; 6 blocks as the paper)."""

    residual: bool = Field(False, description="Generators add a learned correction to their input (start: identity).")
    lambda_paired: float = Field(0.0, ge=0, description="Weight of the L1 loss on degraded-B -> B pairs.")
    degradation: dict[str, float] | Literal["fit"] | None = Field(
        None, description="Fitted NIR degradation (data.nir_optics.NIRDegradation fields) that makes those pairs; "
                          "'fit': fit it to the given images first, the i-th domain-A image being the degraded "
                          "partner of the i-th domain-B image (data.nir_optics.fit_degradation).")
    degraded_copies: int = Field(4, ge=1, description="Random degradations made of each domain-B image.")
    synthetic_mix: int = Field(0, ge=0, description="Realistic synthetic images added to each domain (needs degradation).")
    pretrain_steps: int = Field(0, ge=0, description="Supervised L1 steps on the registered pairs before the CycleGAN.")
    pretrain_lr: float = Field(1e-3, gt=0, description="Adam learning rate of that warm start.")
    pretrain_batch_size: int = Field(4, ge=1, description="Patches per warm-start step.")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"ngf": 64, "ndf": 64, "patch_size": 256, "steps": 200_000, "decay_steps": 100_000},
        "real": {"degradation": "fit", "residual": True, "lambda_paired": 20.0, "lambda_identity": 10.0,
                 "synthetic_mix": 2, "synthetic_size": 256, "ngf": 8, "ndf": 16, "patch_size": 64, "pool_size": 20,
                 "pretrain_steps": 600, "steps": 300, "decay_steps": 300, "lr": 5e-5},
        "test": {"ngf": 8, "ndf": 8, "patch_size": 64, "steps": 4, "decay_steps": 2, "checkpoint_every": 2,
                 "pool_size": 4, "synthetic_images": 3, "synthetic_size": 96},
    }


def synthetic_domains(config: DenoiseConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Unpaired low-light (A) and high-quality (B) synthetic NIR-II images from disjoint seeds."""
    from napari_vesselgan.data import unpaired_domains

    size = config.synthetic_size
    return unpaired_domains(config.synthetic_images, (size, size), config.seed)


# ----- which bundled weight set ---------------------------------------------------------------
#: What the input is: ``auto`` measures it (:func:`measured_input_kind`); the others name a bundled set.
InputKind = Literal["auto", "nir-iia", "low-light"]
#: The bundled weight set of each input kind (files in ``weights/``).
WEIGHT_SETS: dict[str, str] = {"nir-iia": "denoise.safetensors", "low-light": "denoise-low-light.safetensors"}
#: ``auto`` takes an image as photon-limited (low-light set) when its :func:`noise_level` is above
#: this. benchmarks/bench_denoise_input_kind.py measured the real NIR-IIa / NIR-IIb-like frames and
#: the liver light-sheet slices at 0.006-0.018, synthetic low-light images at 0.035 (200 photons at
#: the brightest pixel) to 0.20 (5 photons). The costs of a wrong pick differ: the low-light set
#: ruins a real frame (SSIM to the NIR-IIb-like image 0.93 -> 0.28), the real-frame set leaves a
#: low-light image as it was; so the threshold sits nearer the low-light side (1.66x above the
#: noisiest real frame, 1.15x below 200 photons). Mildly noisy images (500+ photons, 0.015-0.022)
#: overlap the real frames and get the real-frame set; input_kind="low-light" gains them 0.7-2.7 dB.
LOW_LIGHT_NOISE = 0.03
#: Pixels of the centred crop :func:`noise_level` measures (large images: a crop, not the whole).
NOISE_CROP = 1024
#: Planes of a stack measured (evenly spaced); the stack gets the median's kind as a whole.
NOISE_PLANES = 5


def noise_level(plane: Any) -> float:
    """Noise of a grey 2-D image relative to its signal span: the wavelet (MAD) noise estimate of
    ``skimage.restoration.estimate_sigma`` on the image scaled so that its 0.5th and 99.5th
    percentiles are 0 and 1 (robust to a few hot or dead pixels), on a centred crop of at most
    ``NOISE_CROP`` px a side. Photon-limited images score high (shot noise large next to the
    signal), real wide-field frames and clean images low."""
    from skimage.restoration import estimate_sigma

    height, width = plane.shape[-2:]
    y0, x0 = max(0, (height - NOISE_CROP) // 2), max(0, (width - NOISE_CROP) // 2)
    crop = np.asarray(plane[y0 : y0 + NOISE_CROP, x0 : x0 + NOISE_CROP], np.float64)
    low, high = np.percentile(crop, [0.5, 99.5])
    if not high > low:
        return 0.0
    return float(estimate_sigma((crop - low) / (high - low)))


def measured_noise_level(image: Any) -> float:
    """:func:`noise_level` of a 2-D image, or the median over up to ``NOISE_PLANES`` evenly spaced
    planes of a stack (one decision for the whole stack, so that its planes stay consistent)."""
    shape = tuple(image.shape)
    if len(shape) == 2:
        return noise_level(image)
    planes = list(np.ndindex(*shape[:-2]))  # indexing only: works for numpy, dask and zarr alike
    picks = np.unique(np.linspace(0, len(planes) - 1, min(NOISE_PLANES, len(planes))).round().astype(int))
    return float(np.median([noise_level(image[planes[int(i)]]) for i in picks]))


def measured_input_kind(image: Any) -> tuple[str, float]:
    """``("low-light" | "nir-iia", noise level)``: what ``input_kind="auto"`` takes ``image`` for."""
    level = measured_noise_level(image)
    return ("low-light" if level > LOW_LIGHT_NOISE else "nir-iia"), level


class DenoiseOptions(PredictOptions):
    """denoise's prediction options."""

    input_kind: InputKind = Field(
        "auto", description="which bundled weight set: nir-iia (real NIR-IIa frames, trained on them), low-light "
                            "(photon-limited images, trained on synthetic ones), or auto: measured from the image's "
                            "noise relative to its signal. With your own --weights leave it at auto")


class DenoiseMethod(Method):
    """Low-light NIR-II -> clean NIR-II; same size, intensities back in the input's range and dtype."""

    name: ClassVar[str] = "denoise"
    kind: ClassVar[str] = "restoration"
    config_class: ClassVar[type[TrainingConfig]] = DenoiseConfig
    verb: ClassVar[str] = "Denoising"
    summary: ClassVar[str] = "low-light NIR-II -> clean NIR-II (unpaired CycleGAN)"
    training_sources: ClassVar[tuple[TrainingSource, ...]] = (
        TrainingSource("domain_a", "Domain A: low-light / noisy images", "folder or image of low-light images"),
        TrainingSource("domain_b", "Domain B: clean images (unpaired)", "folder or image of clean images"),
    )
    evaluation: ClassVar[str | None] = "denoise"
    options_class: ClassVar[type[PredictOptions]] = DenoiseOptions

    def __init__(self, config: TrainingConfig, generator: torch.nn.Module, **kwargs: Any):
        super().__init__(config, generator, **kwargs)
        #: Whether both bundled sets are at hand for ``input_kind`` (loaded with the default weights).
        self.bundled = False
        self._low_light: DenoiseMethod | None = None
        #: What the last prediction ran: input kind asked for, weight set, its weights, the noise level.
        self.last_run: dict[str, Any] | None = None

    @classmethod
    def build_generator(cls, config: DenoiseConfig) -> ResnetGenerator:  # type: ignore[override]
        return ResnetGenerator(1, 1, ngf=config.ngf, n_blocks=config.n_blocks, residual=config.residual)

    @classmethod
    def weight_set_path(cls, kind: str) -> Path:
        """The bundled weights of input kind ``kind`` (``WEIGHT_SETS``)."""
        return WEIGHTS_DIR / WEIGHT_SETS[kind]

    @classmethod
    def load(cls, weights: str | os.PathLike | None = None, device: str | torch.device = "auto") -> "DenoiseMethod":
        """``Method.load``; the bundled default (``weights=None`` or its path, as the docks pass it)
        lets ``input_kind`` pick between both bundled sets, and a bundled set's name (``"nir-iia"``,
        ``"low-light"``, where no such file exists) loads that set alone (``vesselgan export
        denoise --weights low-light``)."""
        named = isinstance(weights, str) and weights in WEIGHT_SETS and not Path(weights).exists()
        method = super().load(cls.weight_set_path(weights) if named else weights, device)
        method.bundled = weights is None or (
            not named and Path(weights).resolve() == cls.default_weights().resolve())
        return method  # type: ignore[return-value]

    def weight_set(self, kind: str) -> "DenoiseMethod":
        """The method that denoises input of ``kind``: this one for ``nir-iia``, the bundled
        low-light set (loaded once, on this device) for ``low-light``."""
        if kind == "nir-iia":
            return self
        if self._low_light is None:
            self._low_light = type(self).load(self.weight_set_path(kind), device=self.device)
        return self._low_light

    def choose(self, image: Any, input_kind: str = "auto") -> tuple["DenoiseMethod", dict[str, Any]]:
        """The method to run on ``image`` and what to record of the choice (``last_run``). Refuses an
        explicit ``input_kind`` with weights other than the bundled ones (they are one network)."""
        if input_kind not in WEIGHT_SETS and input_kind != "auto":
            raise InvalidInput(f"input_kind must be auto, {' or '.join(WEIGHT_SETS)}, got {input_kind!r}")
        if not self.bundled:
            if input_kind != "auto":
                raise InvalidInput(
                    f"input_kind={input_kind!r} picks one of the bundled weight sets, but these weights "
                    f"({self.weights or 'untrained'}) are one network: leave input_kind at auto, or give no "
                    "weights (the bundled ones)")
            return self, {"input_kind": "auto", "weight_set": "given weights", "weights": str(self.weights)}
        level = None
        kind = input_kind
        if kind == "auto":
            kind, level = measured_input_kind(image)
        method = self.weight_set(kind)
        record = {"input_kind": input_kind, "weight_set": kind, "weights": str(method.weights)}
        if level is not None:
            record.update(noise_level=round(level, 5), low_light_above=LOW_LIGHT_NOISE)
        return method, record

    def predict(self, image: Any, *, tile: int | None = None, progress: ProgressFn | None = None,
                precision: str = "fp32", halo: int | None = None, input_kind: str = "auto") -> np.ndarray:
        """Denoise a 2-D image or a stack with the weight set ``input_kind`` picks (``auto``: the
        low-light set when :func:`measured_input_kind` says photon-limited, else the real-frame
        set); ``last_run`` then says which ran. The input is not modified."""
        image = as_numeric(image)
        check_image(image, channels=1)
        method, record = self.choose(image, input_kind)
        result = Method.predict(method, image, tile=tile, progress=progress, precision=precision, halo=halo)
        self.last_run = record
        return result

    def predict_into(self, image: Any, out: Any, *, tile: int | None = None, progress: ProgressFn | None = None,
                     precision: str = "fp32", halo: int | None = None, scale: int = 1,
                     input_kind: str = "auto") -> Any:
        """``Method.predict_into`` with the weight set ``input_kind`` picks (measured on a centred
        crop of up to ``NOISE_PLANES`` planes, read lazily)."""
        check_image(image, channels=1)
        method, record = self.choose(image, input_kind)
        result = Method.predict_into(method, image, out, tile=tile, progress=progress, precision=precision,
                                     halo=halo, scale=scale)
        self.last_run = record
        return result

    def saliency(self, image: np.ndarray, *, max_side: int = 1024, input_kind: str | None = None) -> np.ndarray:
        """Gradient saliency of the network that denoises ``image``: the set ``input_kind`` picks,
        or (None) the set of the last prediction (``last_run``; ``auto`` before any)."""
        if input_kind is None:
            input_kind = self.last_run["weight_set"] if self.last_run and self.bundled else "auto"
        method, _ = self.choose(as_numeric(image), input_kind)
        return Method.saliency(method, image, max_side=max_side)

    def describe(self, **parameters: Any) -> dict[str, Any]:
        """``Method.describe`` with the weights the last prediction actually ran and how they were
        chosen (``weight_set``: nir-iia, low-light or given weights; ``input_kind_choice``)."""
        described = super().describe(**parameters)
        if self.last_run is not None:
            ran = self if self.last_run["weight_set"] != "low-light" else self.weight_set("low-light")
            described.update(weights=self.last_run["weights"], weight_set=self.last_run["weight_set"],
                             input_kind_choice=dict(self.last_run), weights_provenance=ran.provenance,
                             config=ran.config.model_dump())
        return described

    @classmethod
    def generator_key_in_training_checkpoint(cls) -> str:
        return "g_ab"

    def train(self, dataset_or_dirs: Any = "synthetic", config: DenoiseConfig | None = None, *,
              callbacks: tuple[Callback, ...] | list[Callback] = (), run_dir: str | os.PathLike | None = None,
              device: str | None = None, resume: bool = True) -> Path:
        """Train on (low-light, clean) sources or ``"synthetic"``; return the exported weights.

        ``dataset_or_dirs`` is ``"synthetic"`` or a pair (A, B); each side may be a folder, an
        image file, an array, a list of arrays (layers' data) or ``"synthetic"``. A ``run_dir``
        holding a ``last.safetensors`` resumes from it unless ``resume`` is False. Afterwards
        this object predicts with the newly trained generator.
        """
        run = self.begin_training(dataset_or_dirs, config, run_dir, device)
        config = run.config
        synthetic = synthetic_domains(config) if run.synthetic else None
        domains, notes = [], []
        for index, (source, label) in enumerate(zip(run.sources, ("low-light", "clean"))):
            if is_synthetic(source):
                domains.append(synthetic[index])
                notes.append(f"{config.synthetic_images} synthetic {label} {config.synthetic_size}px NIR-II images")
            else:
                domains.append(load_domain(source))
                notes.append(f"{len(domains[-1])} user {label} images")
        domain_a, domain_b = domains
        fitted = {}
        if config.degradation == "fit":
            if synthetic is not None:
                raise InvalidInput("degradation='fit' needs your own registered domain A / B images to fit it to; "
                                   "give both domains (the i-th A image the degraded partner of the i-th B image)")
            config, fitted = fit_to_pairs(domain_a, domain_b, config)
            run = dataclasses.replace(run, config=config)
            notes.append(f"NIR degradation fitted to the {len(domain_a)} A / B pairs (data.nir_optics.fit_degradation)")
        paired: tuple[list[np.ndarray], list[np.ndarray]] | None = None
        if config.degradation is not None:
            domain_a, domain_b, paired, extra_notes = realistic_training_data(domain_a, domain_b, config)
            notes += extra_notes
        data_note = "; ".join(notes) + f" (unpaired; synthetic seeds from {config.seed})" * (synthetic is not None)
        prepared_a, prepared_b = prepare_images(domain_a), prepare_images(domain_b)
        generators = [init_weights(self.build_generator(config), seed=config.seed + k) for k in (0, 1)]
        if config.residual:
            generators = [generator.start_at_identity() for generator in generators]
        g_ab = generators[0]
        warm_start = {}
        resuming = resume and (run.run_dir / "last.safetensors").is_file()
        if paired is not None and config.pretrain_steps and not resuming:
            l1 = pretrain_on_pairs(g_ab.to(run.device), generators[1].to(run.device),
                                   (prepare_images(paired[0]), prepare_images(paired[1])), config, run.device)
            warm_start = {"warm_start": f"{config.pretrain_steps} supervised L1 steps on the registered pairs "
                                        f"(final G_AB L1 {l1:.4f} in [-1, 1] units)"}
        extra_loss = None
        if paired is not None and config.lambda_paired > 0:
            def extra_loss(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
                restored = g_ab(tensors["paired_a"])
                return {"paired": torch.nn.functional.l1_loss(restored, tensors["paired_b"]) * config.lambda_paired}
        model = CycleGAN(
            self.name, config,
            g_ab=g_ab,
            g_ba=generators[1],
            d_a=init_weights(PatchDiscriminator(1, config.ndf, config.n_layers_d), seed=config.seed + 2),
            d_b=init_weights(PatchDiscriminator(1, config.ndf, config.n_layers_d), seed=config.seed + 3),
            device=run.device,
            extra_generator_loss=extra_loss,
        )
        if paired is not None and extra_loss is not None:
            prepared_pairs = prepare_images(paired[0]), prepare_images(paired[1])

            def batches(start: int):
                seed = run.batch_seed(start)
                unpaired = unpaired_batches(prepared_a, prepared_b, patch_size=config.patch_size,
                                            batch_size=config.batch_size, seed=seed)
                registered = paired_batches(*prepared_pairs, patch_size=config.patch_size,
                                            batch_size=config.batch_size, seed=seed + 1)
                return ((*ab, *pair) for ab, pair in zip(unpaired, registered))
        else:
            def batches(start: int):
                return unpaired_batches(prepared_a, prepared_b, patch_size=config.patch_size,
                                        batch_size=config.batch_size, seed=run.batch_seed(start))
        weights = fit(
            model, batches,
            run.run_dir, config.trainer_settings(resume=resume), callbacks=callbacks,
            provenance={"training_data": data_note, **warm_start, **fitted, **run.provenance},
        )
        return self.finish_training(run, weights, model.g_ab)


def fit_to_pairs(domain_a: list[np.ndarray], domain_b: list[np.ndarray],
                 config: DenoiseConfig) -> tuple[DenoiseConfig, dict[str, Any]]:
    """``config`` with the NIR degradation fitted to the (A_i, B_i) pairs, and the fit's report (provenance)."""
    from napari_vesselgan.data.nir_optics import fit_degradation

    if len(domain_a) != len(domain_b):
        raise InvalidInput(f"fitting the degradation pairs the i-th A image with the i-th B image: got {len(domain_a)} "
                           f"A and {len(domain_b)} B images")
    # dtypes kept: integers are read at their camera's full scale; fit_degradation checks the shapes agree
    pairs = [(np.asarray(a), np.asarray(b)) for a, b in zip(domain_a, domain_b, strict=True)]
    for index, pair in enumerate(pairs):
        if any(image.ndim != 2 for image in pair):
            raise InvalidInput(f"pair {index}: fitting the degradation needs grey images, got shapes "
                               f"{pair[0].shape} and {pair[1].shape}")
    degradation, report = fit_degradation(pairs)
    fitted = {name: float(value) for name, value in degradation.to_dict().items()}
    return config.model_copy(update={"degradation": fitted}), {"degradation_fit": report}


def realistic_training_data(domain_a: list[np.ndarray], domain_b: list[np.ndarray], config: DenoiseConfig):
    """Domains A and B with ``synthetic_mix`` realistic synthetic images added, the registered
    (degraded B, B) pairs for the paired loss, and notes on what was added (for provenance)."""
    from napari_vesselgan.data.nir_optics import NIRDegradation, degraded_copies, realistic_domains
    from napari_vesselgan.data.patches import grey_planes

    degradation = NIRDegradation.from_dict(config.degradation or {})
    notes = []
    domain_a, domain_b = grey_planes(domain_a), grey_planes(domain_b)
    pairs = degraded_copies(domain_b, degradation, copies=config.degraded_copies, seed=config.seed + 11)
    notes.append(f"{len(pairs[0])} registered pairs: {config.degraded_copies} fitted degradations of each given "
                 "domain-B image")
    if config.synthetic_mix:
        size = config.synthetic_size
        synthetic_a, synthetic_b = realistic_domains(config.synthetic_mix, (size, size), degradation, seed=config.seed)
        domain_a, domain_b = domain_a + synthetic_a, domain_b + synthetic_b
        notes.append(f"{config.synthetic_mix} realistic synthetic {size}px images per domain (fitted degradation; "
                     "unpaired terms only)")
    return domain_a, domain_b, pairs, notes


def pretrain_on_pairs(g_ab: torch.nn.Module, g_ba: torch.nn.Module, pairs: tuple[list[np.ndarray], list[np.ndarray]],
                      config: DenoiseConfig, device: torch.device) -> float:
    """Supervised warm start: G_AB learns degraded -> sharp and G_BA sharp -> degraded by L1 on the
    registered pairs (``pretrain_steps`` steps, Adam ``pretrain_lr``, batch ``pretrain_batch_size``);
    returns G_AB's mean L1 over the last 50 steps. The unpaired CycleGAN then starts from a
    generator that already undoes the fitted degradation instead of from the identity."""
    batches = paired_batches(*pairs, patch_size=config.patch_size, batch_size=config.pretrain_batch_size,
                             seed=config.seed + 101)
    optimizer = torch.optim.Adam([*g_ab.parameters(), *g_ba.parameters()], lr=config.pretrain_lr,
                                 betas=(config.beta1, config.beta2))
    g_ab.train(), g_ba.train()
    recent: list[float] = []
    for _ in range(config.pretrain_steps):
        degraded, sharp = (t.to(device) for t in next(batches))
        forward = torch.nn.functional.l1_loss(g_ab(degraded), sharp)
        loss = forward + torch.nn.functional.l1_loss(g_ba(sharp), degraded)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        recent = (recent + [float(forward.detach())])[-50:]
    return float(np.mean(recent)) if recent else float("nan")
