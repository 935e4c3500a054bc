"""Batch prediction on a dask.distributed cluster: the client, the worker plugin that loads the
weights once per worker, and the tasks (one file each). :mod:`.batch` decides what to run."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker

from napari_vesselgan import InvalidInput
from napari_vesselgan.methods.base import Method
from napari_vesselgan.methods.request import PredictionRequest

PLUGIN_PREFIX = "napari-vesselgan-method"


class MethodPlugin(WorkerPlugin):
    """Loads the request's method once per worker, on its first file, and keeps it.

    Registered by name, so a worker that joins later (or replaces one that died) gets it too.
    ``loads`` counts the loads (the tests check one per worker). Torch gets as many threads as
    the worker has.
    """

    def __init__(self, request_json: str, loader: Callable[[PredictionRequest], Method]):
        self.request_json, self.loader = request_json, loader
        self.loads = 0
        self._method: Method | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"request_json": self.request_json, "loader": self.loader}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["request_json"], state["loader"])

    def setup(self, worker: Any) -> None:
        import torch

        torch.set_num_threads(max(1, int(getattr(worker.state, "nthreads", 1))))

    def teardown(self, worker: Any) -> None:
        self._method = None

    def method(self) -> Method:
        with self._lock:
            if self._method is None:
                self._method = self.loader(PredictionRequest.model_validate_json(self.request_json))
                self.loads += 1
            return self._method


def plugin_name(request_json: str) -> str:
    """One plugin per request, so that batches of different requests can share a cluster."""
    return f"{PLUGIN_PREFIX}-{hashlib.sha1(request_json.encode()).hexdigest()[:12]}"


def _on_worker(item: Any, request_json: str, fmt: str, task: Callable[..., str], plugin: str) -> tuple[bool, str]:
    """A cluster task: one file with the worker's method. ``(True, line)``, or ``(False, message)``
    for a user error (a bad file: returned, so the worker logs no traceback for it); a bug raises."""
    try:
        method = get_worker().plugins[plugin].method()
        return True, task(method, item, PredictionRequest.model_validate_json(request_json), fmt)
    except InvalidInput as error:
        return False, str(error).splitlines()[0] if str(error) else type(error).__name__


@contextlib.contextmanager
def cluster_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Client]:
    """A client of a new local cluster of ``workers`` single-threaded processes on 127.0.0.1 with
    no dashboard, or of the running cluster whose scheduler is at ``scheduler``."""
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    if workers is None or workers < 1:
        raise InvalidInput(f"--workers takes a positive number, got {workers}")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def predict_on(client: Client, items: list[Any], request: PredictionRequest, fmt: str, *,
               loader: Callable[[PredictionRequest], Method], task: Callable[..., str]) -> Iterator[tuple[Any, Any]]:
    """Submit one task per item; yield ``(item, line or exception)`` as each ends, in any order.

    A worker that dies takes its task with it; the scheduler runs it again elsewhere (up to
    ``distributed.scheduler.allowed-failures`` times, then the exception is ``KilledWorker``).
    """
    request_json = request.model_dump_json()
    name = plugin_name(request_json)
    client.register_plugin(MethodPlugin(request_json, loader), name=name)
    token = uuid.uuid4().hex[:8]
    futures = client.map(_on_worker, items, request_json=request_json, fmt=fmt, task=task, plugin=name,
                         pure=False, key=[f"vesselgan-predict-{token}-{index}" for index in range(len(items))])
    item_of = {future.key: item for future, item in zip(futures, items, strict=True)}
    for future in as_completed(futures):
        try:
            ok, text = future.result()
            outcome: Any = text if ok else InvalidInput(text)
        except Exception as error:  # a bug, or the workers died (KilledWorker)
            outcome = error
        yield item_of[future.key], outcome
