"""One training loop for every method: steps, callbacks, schedules, checkpoints, resume, cancel.

A method hands the trainer a :class:`Trainable` (its networks, optimisers and one training
step) and an iterator of batches. The trainer owns everything around the step: the learning
rate schedules, periodic atomic checkpoints (networks *and* optimisers, so a crashed or
cancelled run resumes where it stopped), the loss history, progress callbacks, and cancel.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from napari_vesselgan import InvalidInput
from napari_vesselgan.engine import distributed
from napari_vesselgan.engine.checkpoint import load_checkpoint, load_network, save_checkpoint
from napari_vesselgan.engine.run_lock import run_folder_lock
from napari_vesselgan.engine.schedules import ScheduleName, make_scheduler
from napari_vesselgan.io.atomic import atomic_path

LAST_CHECKPOINT = "last.safetensors"
LOSS_HISTORY = "losses.json"


class Trainable(Protocol):
    """What a method gives the trainer."""

    method: str

    def networks(self) -> dict[str, nn.Module]: ...
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...
    def train_step(self, batch: Any) -> dict[str, float]: ...
    def inference_networks(self) -> dict[str, nn.Module]: ...
    def config_dict(self) -> dict[str, Any]: ...
    # Optional, for torchrun: wrap the trained networks with ``group.wrap`` (engine.distributed).
    # def distribute(self, group: distributed.Distributed) -> None: ...


@dataclass
class TrainState:
    """Where training stands; callbacks read it and may ask to stop."""

    step: int
    total_steps: int
    losses: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    stop_requested: bool = False
    cancelled: bool = False
    run_dir: Path | None = None

    def request_stop(self) -> None:
        """Stop after the current step, saving a checkpoint first (the run can resume)."""
        self.stop_requested = True


class Callback:
    """Hooks into the loop; override what you need. Each may call ``state.request_stop()``."""

    def on_train_start(self, state: TrainState) -> None: ...
    def on_step_end(self, state: TrainState) -> None: ...
    def on_checkpoint(self, state: TrainState, path: Path) -> None: ...
    def on_train_end(self, state: TrainState, weights: Path) -> None: ...


class FunctionCallback(Callback):
    """Adapt a plain ``fn(state)`` into a per-step callback (progress bars, queues)."""

    def __init__(self, fn: Callable[[TrainState], None]):
        self.fn = fn

    def on_step_end(self, state: TrainState) -> None:
        self.fn(state)


@dataclass
class TrainerSettings:
    """Loop settings shared by every method's config."""

    total_steps: int
    checkpoint_every: int = 500
    schedule: ScheduleName = "linear"
    decay_steps: int = 0
    step_size: int = 50
    gamma: float = 0.5
    resume: bool = True
    export_dtype: torch.dtype | None = None


def _save_history(run_dir: Path, history: list[dict[str, float]]) -> None:
    with atomic_path(run_dir / LOSS_HISTORY) as tmp:
        tmp.write_text(json.dumps(history))


def read_history(run_dir: str | Path) -> list[dict[str, float]]:
    """The per-step losses of a run (empty if none were written)."""
    path = Path(run_dir) / LOSS_HISTORY
    return json.loads(path.read_text()) if path.is_file() else []


def resume_step(model: Trainable, run_dir: Path) -> int:
    """Load the last checkpoint of ``run_dir`` into ``model``; return its step (0 if none)."""
    path = run_dir / LAST_CHECKPOINT
    if not path.is_file():
        return 0
    checkpoint = load_checkpoint(path, expected_method=model.method)
    for name, net in model.networks().items():
        load_network(net, checkpoint.networks[name], name=name)
    for name, optimizer in model.optimizers().items():
        if name in checkpoint.optimizers:
            optimizer.load_state_dict(checkpoint.optimizers[name])
    return checkpoint.step


def fit(
    model: Trainable,
    batches: Callable[[int], Iterator[Any]] | Iterable[Any],
    run_dir: str | Path,
    settings: TrainerSettings,
    *,
    callbacks: Sequence[Callback] = (),
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Train ``model`` for ``settings.total_steps`` steps in ``run_dir``; return the exported weights.

    ``batches`` is an iterable, or a function of the starting step returning an iterator (so a
    resumed run draws new, repeatable batches). Writes ``last.safetensors`` (everything needed
    to resume) every ``checkpoint_every`` steps and at the end, ``losses.json``, and the
    inference weights ``<method>.safetensors`` that ``methods.load(..., weights=...)`` takes.

    Under ``torchrun`` (``engine.distributed``) every process runs this loop on its share of each
    global batch with its networks wrapped for DistributedDataParallel; rank 0 alone writes, the
    losses recorded are the global batch's, and a stop asked for on any rank stops all of them.
    The run folder is locked while it trains (``engine.run_lock``, by rank 0): a second training
    there refuses.
    """
    group = distributed.current()
    run_dir = Path(run_dir)
    if group.active:
        if not hasattr(model, "distribute"):
            raise InvalidInput(f"{model.method} cannot train in several processes (torchrun)")
        model.distribute(group)
    batch_size = int(getattr(model.config, "batch_size", 1)) if hasattr(model, "config") else 1
    if not group.is_main:
        return _fit(model, batches, run_dir, settings, callbacks, provenance, group, batch_size)
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_folder_lock(run_dir):  # a second training on this folder refuses
        return _fit(model, batches, run_dir, settings, callbacks, provenance, group, batch_size)


def _fit(model: Trainable, batches: Callable[[int], Iterator[Any]] | Iterable[Any], run_dir: Path,
         settings: TrainerSettings, callbacks: Sequence[Callback], provenance: dict[str, Any] | None,
         group: distributed.Distributed, batch_size: int) -> Path:
    """:func:`fit` once its run folder is locked (rank 0) and its networks wrapped."""
    start = resume_step(model, run_dir) if settings.resume else 0
    history = read_history(run_dir)[:start] if start else []
    state = TrainState(step=start, total_steps=settings.total_steps, history=history, run_dir=run_dir)
    schedulers = [
        make_scheduler(opt, schedule=settings.schedule, total_steps=settings.total_steps,
                       decay_steps=settings.decay_steps, step_size=settings.step_size, gamma=settings.gamma,
                       last_step=start)
        for opt in model.optimizers().values()
    ]
    provenance = dict(provenance or {})

    def checkpoint() -> Path | None:
        if not group.is_main:
            return None
        path = save_checkpoint(
            run_dir / LAST_CHECKPOINT, method=model.method, config=model.config_dict(),
            networks=model.networks(), optimizers=model.optimizers(), step=state.step,
            provenance={**provenance, "steps": state.step},
        )
        _save_history(run_dir, state.history)
        for callback in callbacks:
            callback.on_checkpoint(state, path)
        return path

    for callback in callbacks:
        callback.on_train_start(state)
    iterator = iter(batches(start) if callable(batches) else batches)
    for net in model.networks().values():
        net.train()
    while state.step < settings.total_steps and not state.stop_requested:
        batch = group.split(next(iterator))
        state.losses = model.train_step(batch)
        state.step += 1
        for scheduler in schedulers:
            scheduler.step()
        if group.active:  # before the callbacks: they see the global batch's losses
            state.losses, _ = group.global_losses(state.losses, batch_size, False)
        state.history.append({"step": state.step, **state.losses})
        for callback in callbacks:
            callback.on_step_end(state)
        if group.active:
            _, state.stop_requested = group.global_losses({}, batch_size, state.stop_requested)
        if settings.checkpoint_every and state.step % settings.checkpoint_every == 0:
            checkpoint()
    state.cancelled = state.step < settings.total_steps
    checkpoint()
    for net in model.networks().values():
        net.eval()
    weights = run_dir / f"{model.method}.safetensors"
    if group.is_main:
        save_checkpoint(
            weights, method=model.method, config=model.config_dict(),
            networks=model.inference_networks(), step=state.step, dtype=settings.export_dtype,
            provenance={**provenance, "steps": state.step, "complete": not state.cancelled},
        )
    group.barrier()  # the other ranks may read what rank 0 has just written
    for callback in callbacks:
        callback.on_train_end(state, weights)
    return weights
