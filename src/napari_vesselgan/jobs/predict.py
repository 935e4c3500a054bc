"""One prediction as a plain function: the work behind every method dock and ``vesselgan predict``.

``run_prediction(request, data, report)`` loads the method the request names, predicts
(progress as ``Progress`` messages), then computes what the request asks for beside the
result (a saliency map, the explainable metrics of input and result) and returns one
:class:`PredictionResult`. It never changes ``data`` and touches no widget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_vesselgan.jobs.messages import Phase, Report, counting, ignore
from napari_vesselgan.methods.base import Method
from napari_vesselgan.methods.request import PredictionRequest

Loader = Callable[[PredictionRequest], Method]


@dataclass(frozen=True)
class PredictionResult:
    """What one prediction produced, ready to be placed as layers or written as files."""

    request: PredictionRequest
    #: The method's result: an image (the input's size, or ``zoom`` times it) or a (T, Y, X) video;
    #: a dask array over a scratch zarr for inputs larger than memory (``streamed_prediction``).
    output: Any
    output_kind: str
    #: Output pixels per input pixel along Y and X (superres with scale 4: 4).
    zoom: float
    #: Method, weights, their provenance and the request's settings (for the layer's metadata).
    metadata: dict[str, Any]
    saliency: np.ndarray | None = None
    #: The explainable metrics before and after (``metrics.compare_metrics`` rows).
    metrics: list[dict[str, Any]] | None = None
    #: Things the user should know (e.g. why no saliency map was made).
    notes: tuple[str, ...] = ()
    seconds: float = 0.0


def load_method(request: PredictionRequest) -> Method:
    """The method the request names, with its weights on its device."""
    from napari_vesselgan import methods

    return methods.load(request.method, weights=request.weights, device=request.device)


def method_input(data: Any, method: type[Method]) -> Any:
    """The array the method takes: a colour method drops an alpha channel (a view, never a copy)."""
    if method.in_channels == 3 and getattr(data, "ndim", 0) >= 3 and data.shape[-1] == 4:
        return data[..., :3]
    return data


def streamed_prediction(method: Method, data: Any, request: PredictionRequest, report: Report = ignore) -> Any:
    """For a lazy (dask) input larger than the lazy-opening limit (``io.lazy.lazy_threshold_bytes``)
    of a method that streams (``Method.streams``): predict it tile by tile into a scratch zarr on
    disk and return that as a dask array, so that the result layer stays lazy too. Else None."""
    if isinstance(data, np.ndarray) or not hasattr(data, "dask"):
        return None
    from napari_vesselgan.io.lazy import lazy_threshold_bytes, scratch_array

    scale = int(request.options.predict_kwargs().get("scale", 1))
    if data.nbytes <= lazy_threshold_bytes() or not method.streams(scale):
        return None
    import dask.array as da

    out = scratch_array(tuple(data.shape), np.float32 if method.kind == "translation" else data.dtype)
    method.predict_into(data, out, tile=request.tile, halo=request.halo, precision=request.precision,
                        progress=counting(report), **request.options.predict_kwargs())
    return da.from_zarr(out)


def run_prediction(request: PredictionRequest, data: Any, report: Report = ignore, *,
                   load: Loader = load_method) -> PredictionResult:
    """Predict ``data`` (numpy or dask) as ``request`` says; ``report`` gets the progress messages."""
    report(Phase("Loading weights..."))
    method = load(request)
    data = method_input(data, type(method))
    started = time.perf_counter()
    report(Phase(f"{method.verb}..."))
    notes: list[str] = []
    output = streamed_prediction(method, data, request, report)
    if output is None:
        output = method.predict_request(data, request, progress=counting(report))
    else:
        notes.append("The image is larger than memory: the result was written tile by tile to a temporary "
                     "zarr on disk (it goes when napari closes); save the layer to keep it.")
    seconds = time.perf_counter() - started
    saliency = None
    streamed = not isinstance(output, np.ndarray)
    if streamed and (request.saliency or request.explainable_metrics):
        notes.append("Saliency maps and metrics are not computed for images larger than memory.")
    elif request.saliency:
        if np.ndim(data) == (2 if method.in_channels == 1 else 3):
            report(Phase("Computing the saliency map..."))
            saliency = method.saliency_of(request.saliency, np.asarray(data), output)
        else:
            notes.append("The saliency map is computed for single images only; none was made for this stack.")
    metrics = None
    if request.explainable_metrics and not streamed:
        from napari_vesselgan.metrics import compare_metrics

        report(Phase("Computing metrics..."))
        metrics = compare_metrics(data, output)
    metadata = method.describe(**request.describe())
    if metrics is not None:
        metadata["metrics"] = metrics
    width_axis = -2 if method.in_channels == 3 else -1
    zoom = output.shape[-1] / data.shape[width_axis]
    return PredictionResult(request, output, method.output_kind, zoom, metadata, saliency, metrics, tuple(notes),
                            seconds)
