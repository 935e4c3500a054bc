"""Checkpoints: safetensors weights with the config and provenance as JSON, written atomically.

One file holds everything: the tensors of every network (``<net>.<param>``) and, for training
checkpoints, of every optimiser (``optim.<name>.<index>.<key>``); the safetensors metadata
holds a JSON document with the method, its config, provenance and the optimisers' parameter
groups. A JSON copy of the metadata is written beside the file for people and tools.
Nothing here unpickles: a pickled or ``torch.save`` file is recognised and refused before
any of it is read as code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from napari_vesselgan import InvalidInput
from napari_vesselgan.io.atomic import atomic_path

FORMAT = "napari-vesselgan/1"


class CheckpointError(InvalidInput):
    """A weights file that is not ours, is damaged, or is refused for safety."""


@dataclass
class Checkpoint:
    """What a checkpoint holds once read: tensors per network and optimiser, and its metadata."""

    method: str
    config: dict[str, Any]
    provenance: dict[str, Any]
    networks: dict[str, dict[str, torch.Tensor]]
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    step: int = 0
    path: Path | None = None


def save_checkpoint(
    path: str | os.PathLike,
    *,
    method: str,
    config: dict[str, Any],
    networks: dict[str, torch.nn.Module | dict[str, torch.Tensor]],
    provenance: dict[str, Any] | None = None,
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    step: int = 0,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write networks (and optionally optimisers) to ``path`` atomically; return the path.

    ``dtype`` stores floating tensors in another precision (fp16 for small bundled weights).
    """
    tensors: dict[str, torch.Tensor] = {}
    for name, net in networks.items():
        state = net.state_dict() if isinstance(net, torch.nn.Module) else net
        for key, value in state.items():
            value = value.detach().to("cpu")
            if dtype is not None and value.is_floating_point():
                value = value.to(dtype)
            tensors[f"{name}.{key}"] = value.contiguous()
    groups: dict[str, Any] = {}
    for name, optimizer in (optimizers or {}).items():
        state = optimizer.state_dict()
        groups[name] = state["param_groups"]
        for index, slots in state["state"].items():
            for key, value in slots.items():
                tensor = value if torch.is_tensor(value) else torch.tensor(value)
                tensors[f"optim.{name}.{index}.{key}"] = tensor.detach().to("cpu").contiguous()
    meta = {
        "format": FORMAT,
        "method": method,
        "config": config,
        "provenance": provenance or {},
        "step": int(step),
        "networks": sorted(networks),
        "optimizer_groups": groups,
    }
    target = Path(path)
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata={"vesselgan": json.dumps(meta)})
    sidecar = {k: v for k, v in meta.items() if k != "optimizer_groups"}
    with atomic_path(target.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2, default=str))
    return target


def _refuse_unsafe(path: Path) -> None:
    """Raise unless ``path`` has a safetensors header; name pickles and torch.save zips as such.

    The safetensors test comes first: its 8-byte header length can itself begin with 0x80, the
    first byte of a pickle, so the signature of a pickle alone would refuse good files.
    """
    with open(path, "rb") as handle:
        head = handle.read(16)
    if len(head) < 8:
        raise CheckpointError(f"{path}: file is empty or truncated, not a safetensors checkpoint")
    header_len = int.from_bytes(head[:8], "little")
    if 0 < header_len <= os.path.getsize(path) - 8 and head[8:9] == b"{":
        return
    if head[:1] == b"\x80" or head[:2] == b"PK":
        raise CheckpointError(
            f"{path}: this is a pickle / torch.save file. It was refused without being read, because "
            "unpickling can run arbitrary code. Use a .safetensors checkpoint written by napari-vesselgan."
        )
    raise CheckpointError(f"{path}: not a safetensors file (bad header)")


def load_checkpoint(path: str | os.PathLike, *, expected_method: str | None = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` without executing anything in it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    _refuse_unsafe(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            raw_meta = (handle.metadata() or {}).get("vesselgan")
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # safetensors raises several types for damaged files
        raise CheckpointError(f"{path}: damaged safetensors file ({error})") from None
    if raw_meta is None:
        raise CheckpointError(f"{path}: safetensors file without napari-vesselgan metadata")
    try:
        meta = json.loads(raw_meta)
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: unreadable metadata ({error})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {meta.get('format')!r}")
    if expected_method is not None and meta.get("method") != expected_method:
        raise CheckpointError(f"{path}: weights are for method {meta.get('method')!r}, not {expected_method!r}")
    networks: dict[str, dict[str, torch.Tensor]] = {name: {} for name in meta.get("networks", [])}
    optim_tensors: dict[str, dict[int, dict[str, torch.Tensor]]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, name, index, slot = key.split(".", 3)
            optim_tensors.setdefault(name, {}).setdefault(int(index), {})[slot] = value
            continue
        name, param = key.split(".", 1)
        networks.setdefault(name, {})[param] = value
    optimizers = {
        name: {"state": optim_tensors.get(name, {}), "param_groups": groups}
        for name, groups in meta.get("optimizer_groups", {}).items()
    }
    return Checkpoint(
        method=meta["method"],
        config=meta.get("config", {}),
        provenance=meta.get("provenance", {}),
        networks=networks,
        optimizers=optimizers,
        step=int(meta.get("step", 0)),
        path=path,
    )


def load_network(net: torch.nn.Module, state: dict[str, torch.Tensor], *, name: str = "network") -> torch.nn.Module:
    """Load ``state`` into ``net`` strictly, casting to the net's dtype; explain mismatches plainly."""
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"{name}: the weights do not fit this architecture "
            f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''})"
        )
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise CheckpointError(f"{name}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}")
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return net


def export_checkpoint(source: str | os.PathLike, target: str | os.PathLike, *, dtype: torch.dtype | None = None,
                      provenance: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> Path:
    """Copy the networks of ``source`` to ``target`` (optionally in ``dtype``), merging ``provenance``
    and ``config`` (fields that change how the networks are used, not how they were built)."""
    checkpoint = load_checkpoint(source)
    return save_checkpoint(
        target, method=checkpoint.method, config={**checkpoint.config, **(config or {})}, networks=checkpoint.networks,
        provenance={**checkpoint.provenance, **(provenance or {})}, step=checkpoint.step, dtype=dtype,
    )
