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
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from napari_vesselgan.data.patches import paired_batches, prepare_images, unpaired_batches
from napari_vesselgan.data.sources import load_domain
from napari_vesselgan.engine.trainer import Callback, fit
from napari_vesselgan.methods.base import Method, is_synthetic
from napari_vesselgan.methods.config import TrainingConfig
from napari_vesselgan.methods.cyclegan import CycleGAN, CycleGANConfig
from napari_vesselgan.methods.options import TrainingSource
from napari_vesselgan.nn import PatchDiscriminator, ResnetGenerator, init_weights


class DenoiseConfig(CycleGANConfig):
    """Networks, losses and training of `denoise` (the CycleGAN fields; 6 blocks as the paper)."""

    residual: bool = Field(False, description="Generators add a learned correction to their input (start: identity).")
    lambda_paired: float = Field(0.0, ge=0, description="Weight of the L1 loss on degraded-B -> B pairs.")
    degradation: dict[str, float] | None = Field(
        None, description="Fitted NIR degradation (data.nir_optics.NIRDegradation fields) that makes those pairs.")
    degraded_copies: int = Field(4, ge=1, description="Random degradations made of each domain-B image.")
    synthetic_mix: int = Field(0, ge=0, description="Realistic synthetic images added to each domain (needs degradation).")
    pretrain_steps: int = Field(0, ge=0, description="Supervised L1 steps on the registered pairs before the CycleGAN.")
    pretrain_lr: float = Field(1e-3, gt=0, description="Adam learning rate of that warm start.")
    pretrain_batch_size: int = Field(4, ge=1, description="Patches per warm-start step.")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"ngf": 64, "ndf": 64, "patch_size": 256, "steps": 200_000, "decay_steps": 100_000},
        "real": {"residual": True, "lambda_paired": 20.0, "lambda_identity": 10.0, "synthetic_mix": 2,
                 "synthetic_size": 256, "ngf": 8, "ndf": 16, "patch_size": 64, "pool_size": 20,
                 "pretrain_steps": 600, "steps": 300, "decay_steps": 300, "lr": 5e-5},
        "test": {"ngf": 8, "ndf": 8, "patch_size": 64, "steps": 4, "decay_steps": 2, "checkpoint_every": 2,
                 "pool_size": 4, "synthetic_images": 3, "synthetic_size": 96},
    }


def synthetic_domains(config: DenoiseConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Unpaired low-light (A) and high-quality (B) synthetic NIR-II images from disjoint seeds."""
    from napari_vesselgan.data import unpaired_domains

    size = config.synthetic_size
    return unpaired_domains(config.synthetic_images, (size, size), config.seed)


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

    @classmethod
    def build_generator(cls, config: DenoiseConfig) -> ResnetGenerator:  # type: ignore[override]
        return ResnetGenerator(1, 1, ngf=config.ngf, n_blocks=config.n_blocks, residual=config.residual)

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
            provenance={"training_data": data_note, **warm_start, **run.provenance},
        )
        return self.finish_training(run, weights, model.g_ab)


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
