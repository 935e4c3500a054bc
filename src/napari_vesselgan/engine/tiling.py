"""Whole-image and tiled inference for fully convolutional networks, seamless with instance norm.

Tiles alone would show seams with instance-normalised generators: each tile would be
normalised by its own statistics. Here the statistics are those of the whole image, found
exactly and with memory bounded by the tile:

1. The image (padded at its bottom/right to the network's stride) is cut into *cores* that
   partition it; each core grows by a *halo* into a *window* (clipped at the image border, so
   the network pads at true borders exactly as it does on the whole image).
2. For each InstanceNorm layer in order, every window runs up to that layer (earlier layers
   frozen at their whole-image statistics); the layer's input over the core is summed into
   per-channel float64 sums, then the run stops. The layer is then frozen at mean and
   variance of the whole image.
3. With every norm frozen, each window runs through the whole network; outputs are blended
   with weights that are 1 on the core and ramp linearly across a ``blend``-px band straddling
   each inner core edge.

When the halo covers the receptive field plus half the blend band, the result equals
whole-image prediction up to float rounding; a smaller halo trades exactness for speed, and
the blending hides what is left.
Inputs come through a ``read_window`` callable, so numpy, memory-mapped and dask arrays all work.

This takes (norm layers + 1) passes over the windows. ``engine.streaming`` gives the same result
with every layer computed once per window, and is what ``Method.predict`` uses; this form stays
for networks whose structure streaming does not know, and ``FrozenInstanceNorm`` serves the live
tiles (``engine.live_tiles``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from napari_vesselgan.engine.device import autocast

ProgressFn = Callable[[int, int], None]
WindowReader = Callable[[int, int, int, int], np.ndarray]


class _StopForward(Exception):
    """Raised inside a hook once the statistics of the layer being gathered are in."""


@dataclass(frozen=True)
class Window:
    """One tile: its core (where it is authoritative) and its window (core plus halo)."""

    core: tuple[int, int, int, int]  # y0, y1, x0, x1
    window: tuple[int, int, int, int]


def round_up(value: int, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def plan_windows(height: int, width: int, tile: int, halo: int, stride: int) -> list[Window]:
    """Cores of ``tile`` px partitioning a (stride-padded) image, each grown by ``halo``."""
    tile, halo = round_up(max(tile, stride), stride), round_up(max(halo, 0), stride)
    height, width = round_up(height, stride), round_up(width, stride)
    windows = []
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            windows.append(
                Window(
                    core=(y0, y1, x0, x1),
                    window=(max(0, y0 - halo), min(height, y1 + halo), max(0, x0 - halo), min(width, x1 + halo)),
                )
            )
    return windows


def padded_reader(read: WindowReader, height: int, width: int) -> WindowReader:
    """Wrap ``read`` so windows past the bottom/right border come back reflect-padded."""

    def read_padded(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        block = read(y0, min(y1, height), x0, min(x1, width))
        pad_y, pad_x = max(0, y1 - height), max(0, x1 - width)
        if pad_y or pad_x:
            block = np.pad(block, ((0, 0), (0, pad_y), (0, pad_x)), mode="reflect")
        return block

    return read_padded


class FrozenInstanceNorm:
    """Hooks that gather whole-image statistics of InstanceNorm layers and then impose them."""

    def __init__(self, net: nn.Module):
        self.norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
        for norm in self.norms:
            if norm.affine or norm.track_running_stats:
                raise ValueError("seamless tiling supports InstanceNorm2d without affine or running statistics")
        self.stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._collect: int | None = None
        self._core: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._window_hw: tuple[int, int] = (1, 1)
        self._sums: dict[int, list[torch.Tensor | float]] = {}
        self._handles = [norm.register_forward_hook(self._hook(i)) for i, norm in enumerate(self.norms)]

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()

    def _hook(self, index: int):
        def hook(module: nn.InstanceNorm2d, inputs: tuple[torch.Tensor], output: torch.Tensor):
            x = inputs[0]
            if index == self._collect:
                self._accumulate(index, x)
                raise _StopForward
            if index in self.stats:
                mean, var = self.stats[index]
                mean, var = mean.to(x.device, x.dtype), var.to(x.device, x.dtype)
                return (x - mean[None, :, None, None]) * torch.rsqrt(var[None, :, None, None] + module.eps)
            return output

        return hook

    def _accumulate(self, index: int, x: torch.Tensor) -> None:
        factor = self._window_hw[0] // x.shape[-2]
        y0, y1, x0, x1 = (c // factor for c in self._core)
        core = x[..., y0:y1, x0:x1].double()
        sums = self._sums.setdefault(index, [0.0, 0.0, 0])
        sums[0] = sums[0] + core.sum(dim=(0, 2, 3))
        sums[1] = sums[1] + (core * core).sum(dim=(0, 2, 3))
        sums[2] += core.shape[0] * core.shape[2] * core.shape[3]

    def begin(self, index: int | None) -> None:
        """Gather statistics of norm ``index`` (None: run through with everything frozen)."""
        self._collect = index

    def set_window(self, window: Window) -> None:
        wy0, wy1, wx0, wx1 = window.window
        cy0, cy1, cx0, cx1 = window.core
        self._core = (cy0 - wy0, cy1 - wy0, cx0 - wx0, cx1 - wx0)
        self._window_hw = (wy1 - wy0, wx1 - wx0)

    def finish(self, index: int) -> None:
        """Freeze norm ``index`` at the gathered mean and (biased) variance."""
        total, total_sq, count = self._sums.pop(index)
        mean = total / count
        var = (total_sq / count - mean * mean).clamp_min(0.0)
        self.stats[index] = (mean.float(), var.float())


def blend_weights(window: Window, blend: int) -> np.ndarray:
    """Weights for one window: 1 inside the core, linear ramps ``blend`` px wide across inner core edges.

    Each ramp straddles the core boundary (half in the core, half in the halo), so neighbours'
    weights sum to 1 and every pixel keeps a positive weight from the tile that owns it. Pixels
    of the halo beyond the ramp get 0: they lack context and would spoil an exact result.
    """
    wy0, wy1, wx0, wx1 = window.window
    cy0, cy1, cx0, cx1 = window.core
    half = blend / 2

    def ramp(w0: int, w1: int, c0: int, c1: int) -> np.ndarray:
        pos = np.arange(w0, w1, dtype=np.float32) + 0.5
        weight = np.ones_like(pos)
        if blend > 0:
            if c0 > w0:  # an inner edge on this side: the neighbour's core lies beyond it
                weight = np.minimum(weight, np.clip((pos - (c0 - half)) / blend, 0.0, 1.0))
            if w1 > c1:
                weight = np.minimum(weight, np.clip(((c1 + half) - pos) / blend, 0.0, 1.0))
        else:
            weight = ((pos >= c0) & (pos < c1)).astype(np.float32)
        return weight

    return ramp(wy0, wy1, cy0, cy1)[:, None] * ramp(wx0, wx1, cx0, cx1)[None, :]


def scaled_blend_weights(window: Window, blend: int, scale: int = 1) -> np.ndarray:
    """:func:`blend_weights` at the output's resolution (each weight repeated ``scale`` x ``scale``)."""
    weight = blend_weights(window, blend)
    return np.kron(weight, np.ones((scale, scale), np.float32)) if scale > 1 else weight


def blend_into(out: np.ndarray, weight_sum: np.ndarray, pred: torch.Tensor, window: Window, *, blend: int,
               scale: int = 1) -> None:
    """Add one window's output (1, C, h*s, w*s), weighted by :func:`blend_weights`, to the running sums."""
    wy0, wy1, wx0, wx1 = window.window
    weight = scaled_blend_weights(window, blend, scale)
    region = (slice(wy0 * scale, wy1 * scale), slice(wx0 * scale, wx1 * scale))
    out[(slice(None), *region)] += pred[0].float().cpu().numpy() * weight
    weight_sum[region] += weight


def _to_tensor(block: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32))[None].to(device)


def predict_whole(
    net: nn.Module,
    image: np.ndarray,
    *,
    stride: int,
    device: torch.device,
    precision: str = "fp32",
    scale: int = 1,
) -> np.ndarray:
    """Run ``net`` on a (C, H, W) float image (or an (N, C, H, W) batch) at once: reflect-pad to
    ``stride``, crop back."""
    batch = image if image.ndim == 4 else image[None]
    height, width = batch.shape[-2:]
    pad_y, pad_x = round_up(height, stride) - height, round_up(width, stride) - width
    if pad_y or pad_x:
        batch = np.pad(batch, ((0, 0), (0, 0), (0, pad_y), (0, pad_x)), mode="reflect")
    with torch.inference_mode(), autocast(device, precision):
        out = net(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device))
    out = out[:, :, : height * scale, : width * scale].float().cpu().numpy()
    return out if image.ndim == 4 else out[0]


def predict_tiled(
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
    progress: ProgressFn | None = None,
    out=None,
):
    """Tiled prediction of a (C, H, W) image read window by window; returns (out_channels, H*s, W*s).

    Instance-norm statistics are gathered over the whole image first (see the module
    docstring), so the result has no seams. ``progress(done, total)`` counts network passes.
    ``out``: where the result goes, an array of that shape with slice assignment (numpy, zarr,
    a writer's sink), filled row of tiles by row of tiles so that memory holds one row of tiles,
    never the whole output (None: a new float32 numpy array); it is returned.
    """
    _, height, width = shape
    padded_h, padded_w = round_up(height, stride), round_up(width, stride)
    reader = padded_reader(read_window, height, width)
    windows = plan_windows(height, width, tile, halo, stride)
    frozen = FrozenInstanceNorm(net)
    total = len(windows) * (len(frozen.norms) + 1)
    done = 0
    try:
        with torch.inference_mode(), autocast(device, precision):
            for index in range(len(frozen.norms)):
                frozen.begin(index)
                for window in windows:
                    frozen.set_window(window)
                    try:
                        net(_to_tensor(reader(*window.window), device))
                    except _StopForward:
                        pass
                    done += 1
                    if progress:
                        progress(done, total)
                frozen.finish(index)
            frozen.begin(None)
            if out is None:
                out = np.empty((out_channels, height * scale, width * scale), np.float32)
            band = _Band(out, out_channels, padded_w * scale, height * scale, width * scale)
            for window in windows:
                wy0, wy1, wx0, wx1 = window.window
                band.flush_before(wy0 * scale)  # rows no later window reaches are final
                pred = net(_to_tensor(reader(wy0, wy1, wx0, wx1), device))[0].float().cpu().numpy()
                weight = scaled_blend_weights(window, min(blend, 2 * halo), scale)
                band.add(wy0 * scale, wy1 * scale, wx0 * scale, wx1 * scale, pred * weight, weight)
                done += 1
                if progress:
                    progress(done, total)
            band.flush_before(padded_h * scale)
    finally:
        frozen.close()
    return out


class _Band:
    """The rows of the output that windows still add to: weighted sums and weights over the full
    (padded) width, from the first row not yet written. Windows come in row-major order, so rows
    above the current window's top are final: they are divided by their weights and written to
    ``out`` (numpy, zarr, any array with slice assignment), and memory holds one row of tiles."""

    def __init__(self, out, channels: int, padded_width: int, height: int, width: int):
        self.out, self.height, self.width = out, height, width
        self.start = 0
        self.sums = np.zeros((channels, 0, padded_width), np.float32)
        self.weights = np.zeros((0, padded_width), np.float32)

    def add(self, y0: int, y1: int, x0: int, x1: int, values: np.ndarray, weight: np.ndarray) -> None:
        missing = y1 - (self.start + self.weights.shape[0])
        if missing > 0:
            self.sums = np.concatenate([self.sums, np.zeros((self.sums.shape[0], missing, self.sums.shape[2]),
                                                            np.float32)], axis=1)
            self.weights = np.concatenate([self.weights, np.zeros((missing, self.weights.shape[1]), np.float32)])
        rows = slice(y0 - self.start, y1 - self.start)
        self.sums[:, rows, x0:x1] += values
        self.weights[rows, x0:x1] += weight

    def flush_before(self, row: int) -> None:
        count = min(row, self.start + self.weights.shape[0]) - self.start
        if count <= 0:
            return
        keep = min(count, max(0, self.height - self.start))  # rows of the stride padding are dropped
        if keep:
            finished = self.sums[:, :keep, : self.width] / self.weights[:keep, : self.width]
            self.out[:, self.start : self.start + keep, : self.width] = finished
        self.sums, self.weights = self.sums[:, count:].copy(), self.weights[count:].copy()
        self.start += count

