"""One image split across a dask.distributed cluster's workers: exact streamed tiling as a map-reduce.

For an image larger than one worker's memory (read window by window from a file every worker
sees, or any picklable window reader). The windows of ``engine.streaming`` are dealt out to
the workers in contiguous groups; each worker keeps its group's window states (in memory up to
its budget, then in its scratch folder) from one stage to the next, so every stage is one task
per worker pinned to that worker. A stage's task returns its share of the next norm's
per-channel float64 sums (map); the client adds them up and hands every worker the whole
image's mean and variance for the next stage (reduce). After the last stage each worker returns
its windows' cores, which with the exact halo are already the whole-image result (up to float
rounding), so no blending across workers is needed. The result equals single-process
prediction (``engine.streaming.predict_streamed``) up to float rounding.

``build_net`` (a picklable callable returning the network) runs once per worker and job, so
the weights load once per worker.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from napari_vesselgan.engine.device import autocast
from napari_vesselgan.engine.streaming import NormStatistics, Streamer, WindowReader
from napari_vesselgan.engine.tiling import Window, padded_reader, plan_windows, round_up

#: Each worker's streamers, by (job, group): they live between a job's stage tasks.
_STREAMERS: dict[tuple[str, int], Streamer] = {}


def _stage_task(job: str, group: int, windows: list[tuple[int, Window]], stage: int,
                frozen: tuple[np.ndarray, np.ndarray] | None, settings: dict[str, Any]) -> Any:
    """One worker's share of one stage: statistics (total, total_sq, count), or its cores at the end."""
    key = (job, group)
    device = torch.device(settings["device"])
    if stage == 0:
        net = settings["build_net"]().to(device).eval()
        height, width = settings["shape"][1:]
        _STREAMERS[key] = Streamer(net, padded_reader(settings["read_window"], height, width), device,
                                   memory_budget=settings["memory_budget"], scratch=settings["scratch"])
    streamer = _STREAMERS[key]
    scale = settings["scale"]
    cores: list[tuple[tuple[int, int, int, int], np.ndarray]] = []

    def keep_core(window: Window, output: torch.Tensor) -> None:
        wy0, _, wx0, _ = window.window
        cy0, cy1, cx0, cx1 = window.core
        core = output[0, :, (cy0 - wy0) * scale : (cy1 - wy0) * scale, (cx0 - wx0) * scale : (cx1 - wx0) * scale]
        cores.append((window.core, core.float().cpu().numpy()))

    torch_frozen = None if frozen is None else (torch.from_numpy(frozen[0]), torch.from_numpy(frozen[1]))
    try:
        with torch.inference_mode(), autocast(device, settings["precision"]):
            statistics = streamer.run_stage(stage, windows, torch_frozen, keep_core)
    except BaseException:
        _STREAMERS.pop(key).close()
        raise
    if statistics is None:
        _STREAMERS.pop(key).close()
        return cores
    return statistics.total.numpy(), statistics.total_sq.numpy(), statistics.count


def predict_on_cluster(
    client: Any,
    build_net: Callable[[], nn.Module],
    read_window: WindowReader,
    shape: tuple[int, int, int],
    *,
    tile: int,
    halo: int,
    stride: int,
    out_channels: int,
    device: str = "cpu",
    precision: str = "fp32",
    scale: int = 1,
    memory_budget: int = 1 << 30,
    scratch: str | os.PathLike | None = None,
) -> np.ndarray:
    """Exact tiled prediction of a (C, H, W) image split across ``client``'s workers; (out_channels, H*s, W*s).

    ``read_window(y0, y1, x0, x1)`` and ``build_net()`` run on the workers (both picklable);
    ``memory_budget`` and ``scratch`` are per worker (see ``engine.streaming``).
    """
    _, height, width = shape
    windows = list(enumerate(plan_windows(height, width, tile, halo, stride)))
    workers = sorted(client.scheduler_info()["workers"])
    count = max(1, min(len(workers), len(windows)))
    groups = [windows[index * len(windows) // count : (index + 1) * len(windows) // count] for index in range(count)]
    settings = {"build_net": build_net, "read_window": read_window, "shape": tuple(shape), "device": device,
                "precision": precision, "scale": scale, "memory_budget": memory_budget,
                "scratch": None if scratch is None else str(scratch)}
    job = uuid.uuid4().hex
    stages = 1 + sum(isinstance(m, nn.InstanceNorm2d) for m in build_net().modules())
    frozen = None
    padded = (round_up(height, stride) * scale, round_up(width, stride) * scale)
    out = np.zeros((out_channels, *padded), np.float32)
    for stage in range(stages):
        futures = [client.submit(_stage_task, job, group, share, stage, frozen, settings, workers=[worker],
                                 allow_other_workers=False, pure=False)
                   for group, (worker, share) in enumerate(zip(workers, groups, strict=False))]
        results = client.gather(futures)
        if stage < stages - 1:
            statistics = NormStatistics()
            for total, total_sq, partial_count in results:
                part = NormStatistics()
                part.total, part.total_sq, part.count = torch.from_numpy(total), torch.from_numpy(total_sq), partial_count
                statistics.merge(part)
            mean, var = statistics.mean_var()
            frozen = (mean.float().numpy(), var.float().numpy())
        else:
            for cores in results:
                for (cy0, cy1, cx0, cx1), core in cores:
                    out[:, cy0 * scale : cy1 * scale, cx0 * scale : cx1 * scale] = core
    return out[:, : height * scale, : width * scale]
