"""Batch prediction: many images, one output each, in this process or on a dask.distributed cluster.

``vesselgan predict METHOD FOLDER -o OUT [--format tiff|ome-zarr] [--workers N | --scheduler ADDRESS]``
runs :func:`run_batch`:

- :func:`plan` pairs each input (images of a folder, OME-Zarr folders included) with its output
  ``OUT/<name>.tif`` or ``OUT/<name>.ome.zarr``; an output that exists is complete (every writer
  here is atomic: a temporary name, then a rename) and is skipped unless ``overwrite``.
- :func:`predict_path` is the work for one file, the same in-process and on a worker: it opens
  the input (lazily when large, :func:`napari_vesselgan.io.lazy.open_image`), predicts, and writes
  the result with the input's physical scale (divided by the zoom for superres x4). A large
  input of a method that streams (``Method.streams``) goes tile by tile into a lazily written
  output; nothing is held whole.
- Without a cluster the files go one after another in this process (weights loaded once).
  With ``workers`` a ``LocalCluster`` starts on 127.0.0.1 (that many single-threaded worker
  processes, no dashboard); with ``scheduler`` the run joins an existing cluster (dask-jobqueue
  on SLURM, Kubernetes...), whose workers must see the same files and weights. Each worker loads
  the weights once (:class:`napari_vesselgan.jobs.cluster.MethodPlugin`) and takes one file at a time.
- A file that fails is reported and the others go on; the summary lists the failures. A worker
  that dies (killed, out of memory) loses only the file it was writing: the scheduler gives that
  file to another worker, and no partial output is ever left under the output's name.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from napari_vesselgan import InvalidInput
from napari_vesselgan.methods.base import Method
from napari_vesselgan.methods.request import PredictionRequest

Format = Literal["tiff", "ome-zarr"]
FORMATS: tuple[str, ...] = ("tiff", "ome-zarr")
SUFFIXES = {"tiff": ".tif", "ome-zarr": ".ome.zarr"}
Loader = Callable[[PredictionRequest], Method]
Task = Callable[[Method, "BatchItem", PredictionRequest, str], str]


@dataclass(frozen=True)
class BatchItem:
    """One input and the output it gets."""

    source: Path
    target: Path


@dataclass
class BatchSummary:
    """What a batch did: outputs written, outputs skipped as complete, files that failed (and why)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        text = [f"{len(self.written)} written, {len(self.skipped)} skipped (already complete), "
                f"{len(self.failed)} failed"]
        text += [f"failed: {source}: {reason}" for source, reason in self.failed]
        return text


# ----- what goes where ------------------------------------------------------------------------
def format_of(target: Path, fmt: str | None) -> str:
    """The output format: ``fmt``, else ``ome-zarr`` for a ``*.zarr`` target, else TIFF."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InvalidInput(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    return "ome-zarr" if target.name.lower().endswith(".zarr") else "tiff"


def output_name(source: Path, fmt: str) -> str:
    """``cells.ome.tif`` -> ``cells.tif`` / ``cells.ome.zarr``."""
    name = source.name
    for ending in (".ome.tiff", ".ome.tif", ".ome.zarr", ".tiff", ".tif", ".zarr"):
        if name.lower().endswith(ending):
            name = name[: -len(ending)]
            break
    else:
        name = source.stem
    return name + SUFFIXES[fmt]


def inputs_of(folder: Path) -> list[Path]:
    """The images of ``folder`` (as ``vesselgan predict`` reads them) and its OME-Zarr folders, by name."""
    from napari_vesselgan.data.sources import IMAGE_SUFFIXES
    from napari_vesselgan.io.ome_zarr import is_ome_zarr

    found = sorted(p for p in folder.iterdir()
                   if (p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
                   or (p.name.lower().endswith(".zarr") and is_ome_zarr(p)))
    if not found:
        raise InvalidInput(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}, .zarr) in this folder")
    return found


def plan(source: Path, target: Path, fmt: str) -> list[BatchItem]:
    """One item per input: a folder's images into the folder ``target``, or one image to ``target``."""
    from napari_vesselgan.io.ome_zarr import is_ome_zarr

    if source.is_dir() and not is_ome_zarr(source):
        return [BatchItem(path, target / output_name(path, fmt)) for path in inputs_of(source)]
    return [BatchItem(source, target)]


def is_complete(target: Path) -> bool:
    """An output is complete when it exists: it only ever appears whole, by a rename."""
    return target.exists()


# ----- the work for one file ------------------------------------------------------------------
def _result_axes(method: Method, in_axes: str, shape: tuple[int, ...]) -> str:
    from napari_vesselgan.io.ome_zarr import default_axes

    grey = in_axes.replace("c", "")
    axes = ("t" + grey) if method.output_kind == "video" else grey
    if method.out_channels > 1:
        axes += "c"
    return axes if len(axes) == len(shape) and len(set(axes)) == len(axes) else default_axes(shape)


def predict_path(method: Method, item: BatchItem, request: PredictionRequest, fmt: str) -> str:
    """Predict one input file into its output (see the module docstring); one line to print."""
    from napari_vesselgan.io import write_image
    from napari_vesselgan.io.lazy import open_image
    from napari_vesselgan.io.readers import TIFF_SUFFIXES

    started = time.perf_counter()
    tiff_out = item.target.suffix.lower() in TIFF_SUFFIXES
    own_writer = type(method).predict_file is not Method.predict_file
    if fmt == "tiff" and (request.saliency or own_writer or not tiff_out):  # the method's own file writer
        opened = None
    else:
        opened = open_image(item.source)
    if opened is None:
        return method.predict_file(item.source, item.target, request)
    options = request.options.predict_kwargs()
    zoom = int(options.get("scale", 1))
    if opened.lazy and method.streams(zoom):
        _predict_streamed(method, opened, item.target, request, fmt)
    else:
        data = np.asarray(opened.data)
        result = method.predict_request(data, request)
        width_axis = -2 if method.in_channels == 3 else -1
        scale = opened.scale.zoomed(result.shape[-1 if method.out_channels == 1 else -2] / data.shape[width_axis])
        axes = _result_axes(method, opened.axes, result.shape)
        if fmt == "ome-zarr":
            from napari_vesselgan.io.ome_zarr import write_ome_zarr

            write_ome_zarr(item.target, result, axes=axes, scale=scale)
        elif tiff_out:
            from napari_vesselgan.io import write_tiff

            write_tiff(item.target, result, scale=scale or None)
        else:
            write_image(item.target, result)
    shape = "x".join(str(n) for n in reversed(opened.data.shape[-3:-1] if method.in_channels > 1
                                               else opened.data.shape[-2:]))
    lazily = ", streamed tile by tile" if opened.lazy else ""
    return f"{item.source} -> {item.target} ({shape}{lazily}, {time.perf_counter() - started:.2f} s)"


def _predict_streamed(method: Method, opened: Any, target: Path, request: PredictionRequest, fmt: str) -> None:
    """A lazy input through ``Method.predict_into`` into a lazily written output: the OME-Zarr
    itself, or for TIFF a scratch zarr beside the target (``io.lazy.scratch_array``), then written to a tiled TIFF."""
    from napari_vesselgan.io import ome_zarr
    from napari_vesselgan.io.lazy import scratch_array, write_tiff_tiled

    data = opened.data
    dtype = np.float32 if method.kind == "translation" else data.dtype
    kwargs = {"tile": request.tile, "halo": request.halo, "precision": request.precision,
              **request.options.predict_kwargs()}  # the method's own options (denoise's input_kind)
    if fmt == "ome-zarr":
        pending = ome_zarr.create(target, tuple(data.shape), dtype, axes=opened.axes, scale=opened.scale)
        try:
            method.predict_into(data, pending, **kwargs)
        except BaseException:
            ome_zarr.abandon(pending)
            raise
        ome_zarr.finish(pending)
        return
    out = scratch_array(tuple(data.shape), dtype, beside=target.parent)  # on the output's disk, not /tmp
    try:
        method.predict_into(data, out, **kwargs)
        write_tiff_tiled(target, out, scale=opened.scale)
    finally:
        shutil.rmtree(out.store.root, ignore_errors=True)


# ----- running them --------------------------------------------------------------------------
def load_method(request: PredictionRequest) -> Method:
    """The request's method with its weights (what each process or worker does once)."""
    from napari_vesselgan.jobs.predict import load_method as load

    return load(request)


def _reason(error: BaseException) -> str:
    """One line for a failed file (the worker's death named as such)."""
    name = type(error).__name__
    if name == "KilledWorker":
        return "the workers predicting it died repeatedly (out of memory?)"
    text = str(error).splitlines()[0] if str(error) else ""
    return text if isinstance(error, InvalidInput) and text else f"{name}: {text}".rstrip(": ")


def _progress_bar(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True)


def run_batch(items: list[BatchItem], request: PredictionRequest, fmt: str, *, workers: int | None = None,
              scheduler: str | None = None, client: Any = None, overwrite: bool = False,
              echo: Callable[[str], None] | None = None, loader: Loader = load_method,
              task: Task = predict_path) -> BatchSummary:
    """Predict every item (see the module docstring). ``client``: an existing dask client to use;
    ``echo`` receives one line per written file; ``loader`` / ``task`` are the weights loading and
    the per-file work (replaceable for tests)."""
    summary = BatchSummary()
    todo = []
    for item in items:
        if not overwrite and is_complete(item.target):
            summary.skipped.append(item.target)
        else:
            todo.append(item)
    if not todo:
        return summary
    bar = _progress_bar(len(todo))
    say = echo or bar.write
    try:
        if client is None and workers is None and scheduler is None:
            method = loader(request)
            for item in todo:
                try:
                    say(task(method, item, request, fmt))
                    summary.written.append(item.target)
                except Exception as error:  # one file's failure stops no other file
                    summary.failed.append((item.source, _reason(error)))
                bar.update(1)
            return summary
        try:
            from napari_vesselgan.jobs.cluster import cluster_client, predict_on
        except ImportError as error:
            raise InvalidInput(f"--workers and --scheduler need dask.distributed ({error}); "
                               "pip install 'napari-vesselgan[cluster]'") from None

        with contextlib.ExitStack() as stack:
            if client is None:
                client = stack.enter_context(cluster_client(workers, scheduler))
            for item, outcome in predict_on(client, todo, request, fmt, loader=loader, task=task):
                if isinstance(outcome, BaseException):
                    summary.failed.append((item.source, _reason(outcome)))
                else:
                    say(outcome)
                    summary.written.append(item.target)
                bar.update(1)
        return summary
    finally:
        bar.close()
