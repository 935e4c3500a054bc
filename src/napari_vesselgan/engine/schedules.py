"""Learning-rate schedules the papers use, counted in training steps."""

from __future__ import annotations

from typing import Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

ScheduleName = Literal["constant", "linear", "step"]


def lr_factor(step: int, *, schedule: ScheduleName, total_steps: int, decay_steps: int, step_size: int, gamma: float) -> float:
    """Multiplier of the base learning rate at ``step``.

    linear: constant for ``total_steps - decay_steps`` steps, then linearly to 0 over the
    last ``decay_steps`` (CycleGAN's rule 1 - max(0, t - n_const) / (n_decay + 1));
    step: multiplied by ``gamma`` every ``step_size`` steps (Fundus2Video); constant: 1.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        constant = max(total_steps - decay_steps, 0)
        return 1.0 - max(0, step - constant) / float(decay_steps + 1)
    if schedule == "step":
        return gamma ** (step // max(step_size, 1))
    raise ValueError(f"unknown schedule {schedule!r}")


def make_scheduler(optimizer: Optimizer, *, schedule: ScheduleName, total_steps: int, decay_steps: int = 0,
                   step_size: int = 50, gamma: float = 0.5, last_step: int = 0) -> LambdaLR:
    """A LambdaLR following :func:`lr_factor`, positioned at ``last_step`` when resuming."""
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
    scheduler = LambdaLR(
        optimizer,
        lambda step: lr_factor(step, schedule=schedule, total_steps=total_steps, decay_steps=decay_steps,
                               step_size=step_size, gamma=gamma),
        last_epoch=last_step - 1,
    )
    return scheduler
