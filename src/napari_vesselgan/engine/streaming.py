"""Exact tiled inference that computes each layer once per tile: activations streamed stage by stage.

``engine.tiling.predict_tiled`` finds the whole image's instance-norm statistics by running
every tile up to each norm layer in turn: (norms + 1) passes, 0.07-0.14x the whole-image
speed. Here the network is compiled into a flat list of operations (:func:`compile_ops`: the
layers, the residual blocks' and U-Net's skip connections, the norms), split at its instance
norms into *stages*. Stage by stage, every window (a tile with its halo, as in
``engine.tiling``) resumes from the state the previous stage left (its activation and any
pending skip tensors), gets the frozen normalisation of the previous stage applied, runs to
the next norm, adds its core's per-channel sums to that norm's statistics (a map-reduce in
float64) and leaves its state again. After the last stage the outputs are blended as in
``engine.tiling``. Every layer runs once per window; the result equals whole-image prediction
up to float rounding when the halo covers the receptive field, exactly as the multi-pass way.

States live in memory up to a byte budget and beyond it in a scratch folder on disk (one file
per window and stage, written and read whole, so page cache and not the process holds them):
an 8192 x 8192 image goes through with a few hundred MB of resident memory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from napari_vesselgan.engine.device import autocast
from napari_vesselgan.engine.tiling import Window, blend_into, padded_reader, plan_windows, round_up

ProgressFn = Callable[[int, int], None]
WindowReader = Callable[[int, int, int, int], np.ndarray]


class Unsupported(Exception):
    """The network has a structure :func:`compile_ops` does not know (callers fall back to passes)."""


@dataclass(frozen=True)
class Op:
    """One step of a compiled network: ``run`` a module, ``norm`` (pause: stage boundary),
    ``push`` the activation as a skip, ``add`` / ``cat`` the last pushed skip back."""

    kind: str
    module: nn.Module | None = None


def _has_instance_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.InstanceNorm2d) for m in module.modules())


def compile_ops(net: nn.Module) -> list[Op]:
    """The network as a flat list of :class:`Op`; raises :class:`Unsupported` for unknown structures.

    Known: ``nn.Sequential``, the ResNet generator and its residual blocks (also pix2pixHD's
    global generator, which shares their forward), the pix2pix U-Net, and any module without
    an instance norm inside (run whole). Instance norms must have neither affine parameters
    nor running statistics (the CycleGAN / pix2pix kind).
    """
    from napari_vesselgan.nn.resnet_generator import ResidualBlock, ResnetGenerator
    from napari_vesselgan.nn.unet import UnetGenerator

    ops: list[Op] = []

    def visit(module: nn.Module) -> None:
        if isinstance(module, nn.InstanceNorm2d):
            if module.affine or module.track_running_stats:
                raise Unsupported("instance norm with affine parameters or running statistics")
            ops.append(Op("norm", module))
        elif not _has_instance_norm(module):
            ops.append(Op("run", module))
        elif type(module) is nn.Sequential:
            for child in module:
                visit(child)
        elif isinstance(module, ResidualBlock) and type(module).forward is ResidualBlock.forward:
            ops.append(Op("push"))
            visit(module.conv_block)
            ops.append(Op("add"))
        elif isinstance(module, ResnetGenerator) and type(module).forward is ResnetGenerator.forward:
            visit(module.model)
        elif isinstance(module, UnetGenerator) and type(module).forward is UnetGenerator.forward:
            for index, down in enumerate(module.downs):
                visit(down)
                if index < len(module.downs) - 1:
                    ops.append(Op("push"))
            visit(module.ups[0])
            for up in module.ups[1:]:
                ops.append(Op("cat"))
                visit(up)
        else:
            raise Unsupported(f"{type(module).__name__} is not known to the streaming executor")

    visit(net)
    return ops


@dataclass
class State:
    """Where one window stands: the next op, its activation and the pending skip tensors."""

    position: int
    x: torch.Tensor
    stack: list[torch.Tensor] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.x, *self.stack))


class StateStore:
    """Window states between stages: in memory up to ``budget`` bytes, then in a scratch folder."""

    def __init__(self, budget: int, scratch: str | os.PathLike | None = None):
        self.budget, self.in_memory = budget, 0
        self._ram: dict[int, State] = {}
        self._scratch_root = scratch
        self._folder: Path | None = None

    def put(self, key: int, state: State) -> None:
        size = state.nbytes
        if self.in_memory + size <= self.budget:
            self._ram[key] = state
            self.in_memory += size
            return
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="vesselgan-tiles-", dir=self._scratch_root))
        torch.save({"position": state.position, "x": state.x.cpu(), "stack": [t.cpu() for t in state.stack]},
                   self._folder / f"{key}.pt")

    def take(self, key: int, device: torch.device) -> State:
        if key in self._ram:
            state = self._ram.pop(key)
            self.in_memory -= state.nbytes
            return state
        path = self._folder / f"{key}.pt"  # type: ignore[operator]
        saved = torch.load(path, weights_only=True)
        path.unlink()
        return State(saved["position"], saved["x"].to(device), [t.to(device) for t in saved["stack"]])

    @property
    def spilled(self) -> bool:
        return self._folder is not None

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def run_until_norm(ops: list[Op], state: State) -> State:
    """Run ``state`` forward from its position up to (not through) the next norm, or to the end."""
    x, stack, position = state.x, state.stack, state.position
    while position < len(ops):
        op = ops[position]
        if op.kind == "norm":
            break
        if op.kind == "run":
            x = op.module(x)
        elif op.kind == "push":
            stack.append(x)
        elif op.kind == "add":
            x = stack.pop() + x
        elif op.kind == "cat":
            x = torch.cat([x, stack.pop()], dim=1)
        position += 1
    return State(position, x, stack)


class NormStatistics:
    """Per-channel sums over the cores of all windows (the map), then mean and variance (the reduce)."""

    def __init__(self) -> None:
        self.total: torch.Tensor | float = 0.0
        self.total_sq: torch.Tensor | float = 0.0
        self.count = 0

    def add(self, x: torch.Tensor, window: Window) -> None:
        """Add the core of window activation ``x`` (at any resolution of the window)."""
        factor = (window.window[1] - window.window[0]) // x.shape[-2]
        wy0, _, wx0, _ = window.window
        cy0, cy1, cx0, cx1 = window.core
        core = x[..., (cy0 - wy0) // factor : (cy1 - wy0) // factor, (cx0 - wx0) // factor : (cx1 - wx0) // factor]
        core = core.double()
        self.total = self.total + core.sum(dim=(0, 2, 3))
        self.total_sq = self.total_sq + (core * core).sum(dim=(0, 2, 3))
        self.count += core.shape[0] * core.shape[2] * core.shape[3]

    def merge(self, other: NormStatistics) -> None:
        """Add another partial sum (e.g. from another worker's tiles)."""
        self.total = self.total + other.total
        self.total_sq = self.total_sq + other.total_sq
        self.count += other.count

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole image's per-channel mean and biased variance, as InstanceNorm computes them."""
        mean = self.total / self.count
        return mean, (self.total_sq / self.count - mean * mean).clamp_min(0.0)


def normalise(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, eps: float) -> torch.Tensor:
    mean, var = mean.to(x.device, x.dtype), var.to(x.device, x.dtype)
    return (x - mean[None, :, None, None]) * torch.rsqrt(var[None, :, None, None] + eps)


class Streamer:
    """The stage-by-stage run of one network over windows: this process's window states, the ops.

    ``run_stage`` runs the given windows through one stage; stage 0 reads them, later stages
    resume from the stored states with the previous norm frozen at ``frozen`` (mean, var). The
    windows may be all of an image's or one worker's share (``engine.cluster_tiling``).
    """

    def __init__(self, net: nn.Module, reader: WindowReader, device: torch.device, *, memory_budget: int,
                 scratch: str | os.PathLike | None = None):
        self.ops = compile_ops(net)
        self.norms = [op.module for op in self.ops if op.kind == "norm"]
        self.reader, self.device = reader, device
        self.store = StateStore(memory_budget, scratch)

    @property
    def stages(self) -> int:
        return len(self.norms) + 1

    def run_stage(self, stage: int, windows: list[tuple[int, Window]],
                  frozen: tuple[torch.Tensor, torch.Tensor] | None,
                  finish: Callable[[Window, torch.Tensor], None], tick: Callable[[], None] = lambda: None,
                  ) -> NormStatistics | None:
        """Run ``windows`` (key, window) through ``stage``: the statistics of the norm it ends at, or
        None at the last stage, where ``finish(window, output)`` takes each window's output."""
        statistics = NormStatistics()
        last = stage == len(self.norms)
        for key, window in windows:
            if stage == 0:
                block = np.ascontiguousarray(self.reader(*window.window), dtype=np.float32)
                state = State(0, torch.from_numpy(block)[None].to(self.device))
            else:
                state = self.store.take(key, self.device)
                state.x = normalise(state.x, *frozen, self.norms[stage - 1].eps)
                state.position += 1
            state = run_until_norm(self.ops, state)
            if last:
                finish(window, state.x)
            else:
                statistics.add(state.x, window)
                self.store.put(key, state)
            tick()
        return None if last else statistics

    def close(self) -> None:
        self.store.close()


def predict_streamed(
    net: nn.Module,
    read_window: WindowReader,
    shape: tuple[int, int, int],
    *,
    tile: int,
    halo: int,
    stride: int,
    out_channels: int,
    blend: int = 16,
    device: torch.device,
    precision: str = "fp32",
    scale: int = 1,
    memory_budget: int = 1 << 30,
    scratch: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Tiled prediction of a (C, H, W) image with whole-image instance-norm statistics, every
    layer computed once per window; returns (out_channels, H*s, W*s). Raises :class:`Unsupported`
    for networks :func:`compile_ops` does not know. ``memory_budget``: bytes of window states
    kept in memory between stages (the rest go to ``scratch``, default the system's temp folder).
    """
    _, height, width = shape
    padded_h, padded_w = round_up(height, stride), round_up(width, stride)
    windows = list(enumerate(plan_windows(height, width, tile, halo, stride)))
    streamer = Streamer(net, padded_reader(read_window, height, width), device, memory_budget=memory_budget,
                        scratch=scratch)
    total, done = len(windows) * streamer.stages, 0
    out = np.zeros((out_channels, padded_h * scale, padded_w * scale), np.float32)
    weight_sum = np.zeros((padded_h * scale, padded_w * scale), np.float32)

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    def finish(window: Window, output: torch.Tensor) -> None:
        blend_into(out, weight_sum, output, window, blend=min(blend, 2 * halo), scale=scale)

    frozen = None
    try:
        with torch.inference_mode(), autocast(device, precision):
            for stage in range(streamer.stages):
                statistics = streamer.run_stage(stage, windows, frozen, finish, tick)
                frozen = statistics.mean_var() if statistics is not None else None
    finally:
        streamer.close()
    out /= weight_sum
    return out[:, : height * scale, : width * scale]
