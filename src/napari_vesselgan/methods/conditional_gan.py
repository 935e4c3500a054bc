"""Paired conditional GAN training (pix2pix, Isola et al. 2017), with the fundus2ffa loss terms.

One generator G: condition -> image, one conditional PatchGAN D(condition, image). Per step:
D learns real pairs against generated ones (half the sum of the two cross-entropies), then G
minimises L_GAN (-log D(x, G(x))) + lambda_l1 L1 + lambda_perceptual MSE of feature maps +
lambda_saliency MSE of saliency maps (any term with weight 0 is left out and not computed).
D's parameters are frozen while G steps.

With a ``realism`` discriminator (fundus2ffa's ``lambda_realism``), each batch carries a third
tensor, patches of real images that are *not* paired with the conditions (real angiograms of
other eyes): an unconditional least-squares PatchGAN learns those against generated patches,
and G gets ``lambda_realism`` times its least-squares loss as one more term, so the look of
real angiograms reaches G even where only synthetic or roughly registered pairs exist.

Under torchrun (``distribute``) G and D are wrapped for DistributedDataParallel separately; the
generator step runs D unwrapped (frozen: its gradients are neither needed nor synchronised),
the frozen perceptual features are never wrapped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from napari_vesselgan.engine.device import autocast
from napari_vesselgan.engine.distributed import Distributed
from napari_vesselgan.losses.adversarial import GANLoss
from napari_vesselgan.losses.saliency import SaliencyLoss
from napari_vesselgan.methods.cyclegan import set_requires_grad


class ConditionalGAN:
    """Generator, conditional discriminator, their optimisers and one training step; a :class:`Trainable`."""

    def __init__(self, method: str, config: Any, *, generator: nn.Module, discriminator: nn.Module,
                 device: torch.device, features: nn.Module | None = None, realism: nn.Module | None = None):
        self.method, self.config, self.device = method, config, device
        self.g, self.d = generator.to(device), discriminator.to(device)
        self.d_realism = realism.to(device) if realism is not None else None
        self.lsgan = GANLoss("lsgan").to(device)
        self.features = features.to(device) if features is not None else None
        self.gan = GANLoss("vanilla").to(device)
        self.l1 = nn.L1Loss()
        self.mse = nn.MSELoss()
        self.saliency = SaliencyLoss(config.saliency_median_size, config.saliency_gaussian_size, config.saliency_a)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=config.lr, betas=betas)
        self.opt_realism = (torch.optim.Adam(self.d_realism.parameters(), lr=config.lr, betas=betas)
                            if self.d_realism is not None else None)
        # What the steps call to train G and D (DDP wrappers under torchrun, see distribute).
        self.train_g: Callable[..., torch.Tensor] = self.g
        self.train_d_logits: Callable[..., torch.Tensor] = self.d.logits
        self.train_realism: Callable[..., torch.Tensor] | None = self.d_realism

    def distribute(self, group: Distributed) -> None:
        """Train with DistributedDataParallel in ``group``: G and D wrapped one by one."""
        self.train_g = group.wrap(self.g, self.config.batch_size)
        self.train_d_logits = group.wrap(self.d, self.config.batch_size, "logits")
        if self.d_realism is not None:
            self.train_realism = group.wrap(self.d_realism, self.config.batch_size)

    # Trainable ---------------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        realism = {"realism_discriminator": self.d_realism} if self.d_realism is not None else {}
        return {"generator": self.g, "discriminator": self.d, **realism}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        realism = {"realism_discriminator": self.opt_realism} if self.opt_realism is not None else {}
        return {"generator": self.opt_g, "discriminator": self.opt_d, **realism}

    def inference_networks(self) -> dict[str, nn.Module]:
        return {"generator": self.g}

    def config_dict(self) -> dict[str, Any]:
        return self.config.model_dump()

    def generator_losses(self, condition: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """The generator's weighted loss terms (Eq. 3-7)."""
        cfg = self.config
        losses = {"G_GAN": self.gan(self.d.logits(condition, fake), True)}
        if cfg.lambda_l1 > 0:
            losses["L1"] = cfg.lambda_l1 * self.l1(fake, real)
        if self.features is not None and cfg.lambda_perceptual > 0:
            fake_features, real_features = self.features(fake), self.features(real)
            losses["perceptual"] = cfg.lambda_perceptual * sum(
                self.mse(f, r.detach()) for f, r in zip(fake_features, real_features, strict=True))
        if cfg.lambda_saliency > 0:
            losses["saliency"] = cfg.lambda_saliency * self.saliency(fake, real)
        if self.d_realism is not None and getattr(cfg, "lambda_realism", 0) > 0:
            losses["realism"] = cfg.lambda_realism * self.lsgan(self.d_realism(fake), True)
        return losses

    def train_step(self, batch: tuple[torch.Tensor, ...]) -> dict[str, float]:
        condition, real, *unpaired = (t.to(self.device, non_blocking=True) for t in batch)
        cfg = self.config
        discriminators = [self.d] + ([self.d_realism] if self.d_realism is not None else [])
        with autocast(self.device, cfg.precision):
            fake = self.train_g(condition)
            set_requires_grad(discriminators, True)
            loss_d = 0.5 * (self.gan(self.train_d_logits(condition, real), True)
                            + self.gan(self.train_d_logits(condition, fake.detach()), False))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        report = {}
        if self.d_realism is not None:
            if not unpaired:
                raise ValueError("a realism discriminator needs batches with unpaired real images")
            with autocast(self.device, cfg.precision):
                loss_realism = 0.5 * (self.lsgan(self.train_realism(unpaired[0]), True)
                                      + self.lsgan(self.train_realism(fake.detach()), False))
            self.opt_realism.zero_grad(set_to_none=True)
            loss_realism.backward()
            self.opt_realism.step()
            report["D_realism"] = float(loss_realism.detach())

        set_requires_grad(discriminators, False)
        with autocast(self.device, cfg.precision):
            losses = self.generator_losses(condition, real, fake)
            loss_g = sum(losses.values())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        set_requires_grad(discriminators, True)

        report = {"G": float(loss_g.detach()), "D": float(loss_d.detach()), **report}
        report.update({k: float(v.detach()) for k, v in losses.items()})
        return report
