"""One training run as a plain function: the work behind the training dock and ``vesselgan train``.

``run_training(request, report, cancel)`` builds the method untrained, trains it on the
request's sources and reports ``TrainingStarted``, one ``TrainingStep`` per step and
``CheckpointSaved``; setting ``cancel`` stops it after the current step with a checkpoint, and
the same run folder resumes. It returns one :class:`TrainingResult`. Under ``torchrun`` each
process runs it (``engine.distributed``); only rank 0 reports.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_vesselgan.engine import distributed
from napari_vesselgan.engine.trainer import Callback, TrainState
from napari_vesselgan.jobs.messages import CheckpointSaved, Phase, Report, TrainingStarted, TrainingStep, ignore
from napari_vesselgan.methods.base import SYNTHETIC, default_run_dir, is_synthetic
from napari_vesselgan.methods.config import TrainingConfig


@dataclass(frozen=True)
class TrainingRequest:
    """What to train, on what, where."""

    method: str
    config: TrainingConfig
    #: One per source the method declares: ``"synthetic"``, a folder or file, or a list of arrays.
    sources: tuple[Any, ...] = (SYNTHETIC,)
    #: None: ``runs/<method>-<time>``. A folder holding a checkpoint resumes (unless ``resume`` is False).
    run_dir: Path | None = None
    device: str = "auto"
    resume: bool = True

    def dataset(self) -> Any:
        """What ``Method.train`` takes: ``"synthetic"``, the one source, or the tuple of sources."""
        if all(is_synthetic(source) for source in self.sources):
            return SYNTHETIC
        return self.sources[0] if len(self.sources) == 1 else tuple(self.sources)


@dataclass(frozen=True)
class TrainingResult:
    """How a run ended."""

    weights: Path
    run_dir: Path
    start_step: int
    step: int
    total_steps: int
    cancelled: bool
    seconds: float = 0.0


class ReportingCallback(Callback):
    """Hands each step to ``report`` as typed messages; turns the cancel event into a clean stop."""

    def __init__(self, report: Report, cancel: threading.Event):
        self.report, self.cancel = report, cancel
        self.start_step = 0
        self.state: TrainState | None = None

    def on_train_start(self, state: TrainState) -> None:
        self.state, self.start_step = state, state.step
        self.report(TrainingStarted(state.step, state.total_steps, [dict(h) for h in state.history]))
        if self.cancel.is_set():
            state.request_stop()

    def on_step_end(self, state: TrainState) -> None:
        self.report(TrainingStep(state.step, state.total_steps, dict(state.losses)))
        if self.cancel.is_set():
            state.request_stop()

    def on_checkpoint(self, state: TrainState, path: Path) -> None:
        self.report(CheckpointSaved(state.step, Path(path)))


def run_training(request: TrainingRequest, report: Report = ignore,
                 cancel: threading.Event | None = None) -> TrainingResult:
    """Train ``request.method``; the GPU's memory is handed back when the run ends."""
    from napari_vesselgan import methods

    cancel = cancel or threading.Event()
    group, rank_device = distributed.init_from_env(request.device)
    if not group.is_main:  # rank 0 alone reports (and the terminal shows one progress)
        report = ignore
    run_dir = group.agree(Path(request.run_dir) if request.run_dir is not None else default_run_dir(request.method))
    report(Phase("Preparing the training data..."))
    method = methods.method_class(request.method).untrained(request.config, device=rank_device or request.device)
    callback = ReportingCallback(report, cancel)
    started = time.perf_counter()
    try:
        report(Phase("Training..."))
        weights = method.train(request.dataset(), request.config, callbacks=[callback], run_dir=run_dir,
                               resume=request.resume)
        state = callback.state
        return TrainingResult(Path(weights), run_dir,
                              callback.start_step, state.step if state else 0, request.config.steps,
                              bool(state and state.cancelled), time.perf_counter() - started)
    finally:
        del method
        _release_gpu_memory()


def _release_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
