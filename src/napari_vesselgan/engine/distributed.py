"""Data-parallel training under ``torchrun``: one process per device, one seeded global batch.

``torchrun --nproc_per_node N -m napari_vesselgan train ...`` starts N processes and sets
RANK, WORLD_SIZE and LOCAL_RANK; :func:`init_from_env` joins them into one process group
(NCCL on CUDA, one GPU per local rank; gloo on CPUs). Without those variables everything here
is the identity and training runs in one process as before.

Why the result does not depend on the number of processes:

- every rank draws the *same* global batch from the same seeded sampler (``batch_size``
  patches, crops, flips and turns included) and keeps its share (:meth:`Distributed.split`,
  contiguous slices as ``numpy.array_split`` cuts them);
- DistributedDataParallel sums the ranks' gradients with the weight ``share / batch_size``
  (:func:`weighted_sum_hook`, a DDP communication hook) instead of DDP's plain mean, so the
  synchronised gradient is the gradient of the global-batch mean loss even when the shares
  differ in size (the per-sample mean losses of every method make this exact);
- the losses written to ``losses.json`` are the same weighted sums, i.e. the global batch's;
- CycleGAN's image pool runs on the gathered global batch of generated images with one seed
  on every rank (:meth:`Distributed.gather`), so all ranks hold the same pool and each takes
  its share of what the pool returns.

Networks that train are wrapped one by one (:meth:`Distributed.wrap`; generator and
discriminator separately), batch norms inside them become SyncBatchNorm on GPUs; frozen
networks (perceptual features, the best-generator copy) are not wrapped. Rank 0 alone writes
checkpoints, losses and logs; :meth:`Distributed.agree` hands rank 0's choices (the run folder)
to the others.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from napari_vesselgan import InvalidInput


def torchrun_world_size() -> int:
    """The process count ``torchrun`` announced (1 when not started by it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def weighted_sum_hook(weight, bucket):  # noqa: ANN001, ANN201 - DDP checks the annotations, strings fail
    """DDP communication hook: all-reduce ``weight * gradient`` (a sum), not DDP's mean."""
    import torch.distributed as dist

    buffer = bucket.buffer()
    buffer.mul_(weight)
    future = dist.all_reduce(buffer, async_op=True).get_future()
    return future.then(lambda done: done.value()[0])


class _Calls(nn.Module):
    """``forward(name, *args)`` calls ``net.<name>(*args)``: lets DDP synchronise methods other than forward."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.net, name)(*args, **kwargs)


@dataclass(frozen=True)
class Distributed:
    """This process's place among the training processes (rank 0 of 1 when alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes checkpoints, losses and logs."""
        return self.rank == 0

    # ----- the global batch ---------------------------------------------------------------------
    def bounds(self, size: int, rank: int | None = None) -> tuple[int, int]:
        """[start, stop) of ``rank``'s share of ``size`` samples (the first ``size % world`` get one more)."""
        rank = self.rank if rank is None else rank
        base, extra = divmod(size, self.world_size)
        start = rank * base + min(rank, extra)
        return start, start + base + (rank < extra)

    def weight(self, size: int) -> float:
        """This rank's share of the global batch: its loss and gradient weight."""
        start, stop = self.bounds(size)
        return (stop - start) / size

    def split(self, batch: Any) -> Any:
        """This rank's share of a global batch: tensors and arrays of two or more dimensions are
        cut along the first (the samples); numbers and 1-D per-step values pass unchanged."""
        if not self.active:
            return batch
        if isinstance(batch, (tuple, list)):
            return type(batch)(self.split(item) for item in batch)
        if isinstance(batch, (torch.Tensor, np.ndarray)) and batch.ndim >= 2:
            if batch.shape[0] < self.world_size:
                raise InvalidInput(f"batch_size {batch.shape[0]} is smaller than the {self.world_size} training "
                                   "processes: every process needs at least one patch per step")
            start, stop = self.bounds(batch.shape[0])
            return batch[start:stop]
        return batch

    def gather(self, local: torch.Tensor) -> torch.Tensor:
        """The global batch that the ranks' shares ``local`` make up, in rank order, on every rank."""
        if not self.active:
            return local
        import torch.distributed as dist

        counts = torch.tensor([local.shape[0]], dtype=torch.long, device=local.device)
        sizes = [torch.zeros_like(counts) for _ in range(self.world_size)]
        dist.all_gather(sizes, counts)
        sizes_int = [int(s) for s in sizes]
        largest = max(sizes_int)
        padded = torch.zeros((largest, *local.shape[1:]), dtype=local.dtype, device=local.device)
        padded[: local.shape[0]] = local
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([part[:size] for part, size in zip(parts, sizes_int, strict=True)])

    def take_share(self, global_batch: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch (the inverse of :meth:`gather`)."""
        if not self.active:
            return global_batch
        start, stop = self.bounds(global_batch.shape[0])
        return global_batch[start:stop]

    # ----- networks -----------------------------------------------------------------------------
    def wrap(self, net: nn.Module, batch_size: int, method: str = "forward") -> Callable[..., Any]:
        """What a training step calls to run ``net.<method>`` with gradients synchronised: the plain
        method when alone, else a DistributedDataParallel wrapper of its own (see :meth:`wrap_methods`)."""
        return self.wrap_methods(net, batch_size, (method,))[method]

    def wrap_methods(self, net: nn.Module, batch_size: int, methods: tuple[str, ...]) -> dict[str, Callable[..., Any]]:
        """One callable per method of ``net`` (``forward``, ``logits``, ``encode``...), all through one
        DistributedDataParallel wrapper when distributed: batch norms made SyncBatchNorm on GPUs,
        gradients summed with this rank's share of ``batch_size`` as the weight (see the module)."""
        if not self.active:
            return {name: getattr(net, name) for name in methods}
        from torch.nn.parallel import DistributedDataParallel

        device = next(net.parameters()).device
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()):
            if device.type == "cuda":
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            else:
                warnings.warn("batch norm statistics are per process on CPUs (SyncBatchNorm needs GPUs)",
                              stacklevel=2)
        plain = methods == ("forward",)
        ddp = DistributedDataParallel(net if plain else _Calls(net),
                                      device_ids=[device.index] if device.type == "cuda" else None,
                                      forward_sync_buffers=False)
        ddp.register_comm_hook(self.weight(batch_size), weighted_sum_hook)
        return {"forward": ddp} if plain else {name: functools.partial(ddp, name) for name in methods}

    # ----- agreement --------------------------------------------------------------------------
    def global_losses(self, losses: dict[str, float], batch_size: int, stop: bool) -> tuple[dict[str, float], bool]:
        """The global batch's losses (the ranks' weighted sum) and whether any rank asked to stop."""
        if not self.active:
            return losses, stop
        import torch.distributed as dist

        keys = list(losses)  # the same order on every rank (one code path)
        weight = self.weight(batch_size)
        values = torch.tensor([losses[k] * weight for k in keys] + [float(stop)], dtype=torch.float64)
        if dist.get_backend() == "nccl":
            values = values.cuda()
        dist.all_reduce(values)
        values = values.cpu().tolist()
        return dict(zip(keys, values[:-1], strict=True)), values[-1] > 0

    def agree(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (a run folder named after the clock, ...)."""
        if not self.active:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait for every rank (e.g. until rank 0 has written the weights the others read)."""
        if self.active:
            import torch.distributed as dist

            dist.barrier()


_CURRENT = Distributed()


def current() -> Distributed:
    """The process group this process belongs to (rank 0 of 1 when not under torchrun)."""
    return _CURRENT


def init_from_env(device: str | torch.device = "auto") -> tuple[Distributed, torch.device | None]:
    """Join the ``torchrun`` process group once; return it and this rank's device (None: not distributed).

    CUDA (``auto`` with GPUs, or ``cuda``): NCCL, device ``cuda:LOCAL_RANK``. Otherwise gloo on
    the CPU. Idempotent: later calls return the group already joined.
    """
    global _CURRENT
    world = torchrun_world_size()
    if world <= 1:
        return _CURRENT, None
    import torch.distributed as dist

    name = str(device).lower()
    use_cuda = torch.cuda.is_available() and (name == "auto" or name.startswith("cuda"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    torch_device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(torch_device)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        _CURRENT = Distributed(dist.get_rank(), dist.get_world_size(), local_rank)
    return _CURRENT, torch_device


def shutdown() -> None:
    """Leave the process group (at the end of a torchrun training command)."""
    global _CURRENT
    if _CURRENT.active:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
        _CURRENT = Distributed()
