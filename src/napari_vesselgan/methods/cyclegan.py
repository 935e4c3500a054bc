"""Unpaired CycleGAN training (Zhu et al. 2017), shared by the CycleGAN-style methods.

Two generators G_AB: A -> B and G_BA: B -> A, two PatchGAN discriminators D_A and D_B.
Generator loss: adversarial (both directions) + lambda_cycle * L1 cycle consistency (both
directions) + lambda_identity * L1 identity (G_AB(b) ~ b, G_BA(a) ~ a) + any extra terms a
method adds (a batch may carry a third and fourth tensor, registered (A, B) pairs, which reach
those terms as ``paired_a`` / ``paired_b``). Discriminators: half the sum of real and pooled-fake losses. Discriminator
parameters are frozen while the generators step.

Under torchrun (``distribute``) each of the four networks is wrapped for DistributedDataParallel
on its own; the generator step runs the frozen discriminators unwrapped. The image pools are
shared and seeded: every rank gathers the generated images of the whole global batch, runs the
same pool (same seed, same history) on it and keeps its share of the answer, so every rank
holds identical pools and the run equals the one-process run at the same global batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from pydantic import Field

from napari_vesselgan.engine.device import autocast
from napari_vesselgan.engine.distributed import Distributed
from napari_vesselgan.engine.image_pool import ImagePool
from napari_vesselgan.losses.adversarial import GANLoss
from napari_vesselgan.methods.config import TrainingConfig

class CycleGANConfig(TrainingConfig):
    """The fields of every CycleGAN-trained method: widths, depths, loss weights, pool, synthetic data."""

    ngf: int = Field(16, ge=4, le=256, description="Generator width (the paper's CycleGAN: 64).")
    n_blocks: int = Field(6, ge=1, le=12, description="Residual blocks in each generator.")
    ndf: int = Field(32, ge=4, le=256, description="Discriminator width (paper: 64).")
    n_layers_d: int = Field(3, ge=1, le=5, description="Discriminator depth; 3 gives the 70x70 PatchGAN.")
    gan_mode: Literal["lsgan", "vanilla"] = Field("lsgan", description="Adversarial loss.")
    lambda_cycle: float = Field(10.0, ge=0, description="Weight of the cycle-consistency L1 loss.")
    lambda_identity: float = Field(5.0, ge=0, description="Weight of the identity L1 loss (0.5 x lambda_cycle).")
    pool_size: int = Field(50, ge=0, description="Generated images kept for the discriminators (0: off).")
    synthetic_images: int = Field(48, ge=1, description="Images per domain when training on synthetic data.")
    synthetic_size: int = Field(256, ge=32, description="Side of each synthetic training image in pixels.")


ExtraLoss = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for parameter in net.parameters():
            parameter.requires_grad_(flag)


class CycleGAN:
    """The four networks, their optimisers and one training step; a :class:`Trainable`."""

    def __init__(
        self,
        method: str,
        config: Any,
        *,
        g_ab: nn.Module,
        g_ba: nn.Module,
        d_a: nn.Module,
        d_b: nn.Module,
        device: torch.device,
        extra_generator_loss: ExtraLoss | None = None,
    ):
        self.method, self.config, self.device = method, config, device
        self.g_ab, self.g_ba = g_ab.to(device), g_ba.to(device)
        self.d_a, self.d_b = d_a.to(device), d_b.to(device)
        self.gan = GANLoss(getattr(config, "gan_mode", "lsgan")).to(device)
        self.l1 = nn.L1Loss()
        self.pool_a = ImagePool(config.pool_size, seed=config.seed + 1)
        self.pool_b = ImagePool(config.pool_size, seed=config.seed + 2)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam([*self.g_ab.parameters(), *self.g_ba.parameters()], lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam([*self.d_a.parameters(), *self.d_b.parameters()], lr=config.lr, betas=betas)
        self.extra_generator_loss = extra_generator_loss
        self.group = Distributed()
        # What the steps call to train the networks (DDP wrappers under torchrun, see distribute).
        self.train_g_ab, self.train_g_ba = self.g_ab, self.g_ba
        self.train_d_a, self.train_d_b = self.d_a, self.d_b

    def distribute(self, group: Distributed) -> None:
        """Train with DistributedDataParallel in ``group``: each network wrapped on its own."""
        size = self.config.batch_size
        self.group = group
        self.train_g_ab, self.train_g_ba = group.wrap(self.g_ab, size), group.wrap(self.g_ba, size)
        self.train_d_a, self.train_d_b = group.wrap(self.d_a, size), group.wrap(self.d_b, size)

    def _pooled(self, pool: ImagePool, fake: torch.Tensor) -> torch.Tensor:
        """This rank's share of what the shared pool returns for the global batch of ``fake``."""
        return self.group.take_share(pool.query(self.group.gather(fake.detach())))

    # Trainable ---------------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"g_ab": self.g_ab, "g_ba": self.g_ba, "d_a": self.d_a, "d_b": self.d_b}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generators": self.opt_g, "discriminators": self.opt_d}

    def inference_networks(self) -> dict[str, nn.Module]:
        return {"generator": self.g_ab}

    def config_dict(self) -> dict[str, Any]:
        return self.config.model_dump()

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        real_a, real_b, *paired = (t.to(self.device, non_blocking=True) for t in batch)
        cfg = self.config
        with autocast(self.device, cfg.precision):
            # generators
            set_requires_grad([self.d_a, self.d_b], False)
            fake_b = self.train_g_ab(real_a)
            rec_a = self.train_g_ba(fake_b)
            fake_a = self.train_g_ba(real_b)
            rec_b = self.train_g_ab(fake_a)
            losses = {
                "G_adv_AB": self.gan(self.d_b(fake_b), True),
                "G_adv_BA": self.gan(self.d_a(fake_a), True),
                "cycle": (self.l1(rec_a, real_a) + self.l1(rec_b, real_b)) * cfg.lambda_cycle,
            }
            if cfg.lambda_identity > 0:
                losses["identity"] = (self.l1(self.train_g_ab(real_b), real_b)
                                      + self.l1(self.train_g_ba(real_a), real_a)) * cfg.lambda_identity
            if self.extra_generator_loss is not None:
                tensors = {"real_a": real_a, "real_b": real_b, "fake_a": fake_a, "fake_b": fake_b,
                           "rec_a": rec_a, "rec_b": rec_b}
                if paired:
                    tensors["paired_a"], tensors["paired_b"] = paired
                losses.update(self.extra_generator_loss(tensors))
            loss_g = sum(losses.values())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()

        set_requires_grad([self.d_a, self.d_b], True)
        with autocast(self.device, cfg.precision):
            pooled_b = self._pooled(self.pool_b, fake_b)
            pooled_a = self._pooled(self.pool_a, fake_a)
            loss_d_b = 0.5 * (self.gan(self.train_d_b(real_b), True) + self.gan(self.train_d_b(pooled_b), False))
            loss_d_a = 0.5 * (self.gan(self.train_d_a(real_a), True) + self.gan(self.train_d_a(pooled_a), False))
        self.opt_d.zero_grad(set_to_none=True)
        (loss_d_a + loss_d_b).backward()
        self.opt_d.step()

        report = {"G": float(loss_g.detach())}
        report.update({k: float(v.detach()) for k, v in losses.items()})
        report.update({"D_A": float(loss_d_a.detach()), "D_B": float(loss_d_b.detach())})
        return report
