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
    #: The method's result: an image (the input's size, or ``zoom`` times it) or a (T, Y, X) video.
    output: np.ndarray
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


def run_prediction(request: PredictionRequest, data: Any, report: Report = ignore, *,
                   load: Loader = load_method) -> PredictionResult:
    """Predict ``data`` (numpy or dask) as ``request`` says; ``report`` gets the progress messages."""
    report(Phase("Loading weights..."))
    method = load(request)
    data = method_input(data, type(method))
    started = time.perf_counter()
    report(Phase(f"{method.verb}..."))
    output = method.predict_request(data, request, progress=counting(report))
    seconds = time.perf_counter() - started
    notes: list[str] = []
    saliency = None
    if request.saliency:
        if np.ndim(data) == (2 if method.in_channels == 1 else 3):
            report(Phase("Computing the saliency map..."))
            saliency = method.saliency_of(request.saliency, np.asarray(data), output)
        else:
            notes.append("The saliency map is computed for single images only; none was made for this stack.")
    metrics = None
    if request.explainable_metrics:
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
