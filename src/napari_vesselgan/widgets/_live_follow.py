"""A synthetic NIR-II image layer that follows a Labels layer while the annotator paints.

Thin over :class:`napari_vesselgan.engine.live_tiles.LiveRenderer`:

* the first, whole-image render runs in a worker; the image layer appears when it is done;
* every edit path of a napari 0.9 Labels layer is followed: a brush stroke, ``fill``,
  ``paint_polygon``, ``paint`` and ``data_setitem`` emit ``events.paint``, undo and redo only
  ``events.set_data``, and napari emits ``paint`` *before* it writes the data. So neither event
  is trusted for what changed: each schedules one check, on the next turn of the event loop
  (after the write), that compares the mask with the copy last rendered and marks the tiles
  within the generator's reach of the changed box; ``labels.events.data`` (new data)
  re-renders all;
* dirty tiles are planned (mask copied) in the GUI thread and rendered in one worker at a
  time; edits that arrive while it runs are coalesced into the next plan, so a burst of strokes
  costs one more render, not one per stroke, and the viewer never waits on the network;
* rendered tiles are written into the image layer's data in the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from napari.qt.threading import create_worker
from qtpy.QtCore import QTimer

from napari_vesselgan.engine.live_tiles import LiveRenderer


class LiveFollower:
    """Keeps ``image_name`` in ``viewer`` a live ``mask2nir`` rendering of ``labels``."""

    def __init__(self, viewer: Any, labels: Any, method: Any, *, image_name: str, tile: int = 128,
                 metadata: dict[str, Any] | None = None, on_error: Callable[[BaseException], None] | None = None,
                 on_status: Callable[[str], None] | None = None):
        if np.asarray(labels.data).ndim != 2:
            raise ValueError("live following works on 2-D Labels layers")
        self.viewer, self.labels, self.method = viewer, labels, method
        self.image_name = image_name
        self.metadata = metadata or {}
        self.renderer = LiveRenderer(method, labels.data.shape, tile=tile)
        self.on_error = on_error or (lambda error: None)
        self.on_status = on_status or (lambda text: None)
        self.worker = None
        self.layer = None
        self.updates = 0           # finished worker runs (full or tiles), for tests and the status line
        self._full_pending = True
        self._stopped = False
        #: The mask as last handed to a render (what the live layer shows, or will).
        self._seen = np.array(labels.data, copy=True)
        self._check_queued = False
        labels.events.paint.connect(self._on_edit)
        labels.events.set_data.connect(self._on_edit)
        labels.events.data.connect(self._on_data)
        self._schedule()

    # ----- events (GUI thread) ------------------------------------------------------------------
    def _on_edit(self, event: Any = None) -> None:
        """An edit may have happened (or is about to be written): check once the event loop turns."""
        if not self._check_queued and not self._stopped:
            self._check_queued = True
            QTimer.singleShot(0, self.check_edits)

    def check_edits(self) -> None:
        """Compare the mask with the copy last rendered; mark the tiles the changed box can affect."""
        self._check_queued = False
        if self._stopped:
            return
        data = np.asarray(self.labels.data)
        if data.shape != self._seen.shape:
            self._on_data()
            return
        changed = data != self._seen
        if not changed.any():
            return
        rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        self._seen = np.array(data, copy=True)
        self.renderer.mark_changed(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
        self._schedule()

    def _on_data(self, event: Any = None) -> None:
        if np.shape(self.labels.data) != self.renderer.shape:
            self.stop()
            self.on_status("The labels changed size: live following stopped.")
            return
        self.rerender_all()

    def rerender_all(self) -> None:
        """Render the whole mask again (new normalisation statistics too)."""
        self._seen = np.array(self.labels.data, copy=True)
        self._full_pending = True
        self._schedule()

    @property
    def followed_mask(self) -> np.ndarray:
        """The mask as last handed to a render (what the live layer shows once idle)."""
        return self._seen

    @property
    def idle(self) -> bool:
        return (self.worker is None and not self._full_pending and self.renderer.pending == 0
                and not self._check_queued)

    # ----- work ---------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._stopped or self.worker is not None:
            return  # the running worker's finish picks the new edits up
        if self._full_pending:
            self._full_pending = False
            function, argument = self._full, np.array(self.labels.data, copy=True)
        elif self.renderer.pending and self.layer is not None:
            function, argument = self._tiles, self.renderer.plan(self.labels.data)
        else:
            return
        self.worker = create_worker(function, argument, _start_thread=False, _ignore_errors=True)  # on_error tells the user
        self.worker.yielded.connect(self._on_yield)
        self.worker.errored.connect(self._on_worker_error)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()

    def _full(self, mask: np.ndarray):
        yield ("full", self.renderer.render_full(mask).copy())

    def _tiles(self, jobs):
        for job in jobs:
            yield ("tiles", self.renderer.run(job))

    def _on_yield(self, item) -> None:
        kind, payload = item
        if self._stopped:
            return
        if kind == "full":
            if self.layer is not None and self.layer in self.viewer.layers:
                self.layer.data = payload
            else:
                self.layer = self.viewer.add_image(
                    payload, name=self.image_name, contrast_limits=(0.0, 1.0), metadata=self.metadata,
                    scale=self.labels.scale, translate=self.labels.translate)
                self._keep_mask_on_top()
            return
        if self.layer is None or self.layer not in self.viewer.layers:
            return
        data = self.layer.data
        for (y0, y1, x0, x1), block in payload:
            data[y0:y1, x0:x1] = block
        self.layer.refresh()

    def _keep_mask_on_top(self) -> None:
        """The live layer goes under the mask (the annotator sees the strokes over it) and the
        mask stays the active layer, so the brush keeps painting into it."""
        layers = self.viewer.layers
        if self.labels in layers and self.layer in layers:
            below = layers.index(self.labels)
            if layers.index(self.layer) > below:
                layers.move(layers.index(self.layer), below)
            layers.selection.active = self.labels

    def _on_worker_error(self, error: BaseException) -> None:
        self.stop()
        self.on_error(error)

    def _on_finished(self) -> None:
        self.worker = None
        self.updates += 1
        if not self._stopped:
            self.on_status(f"Live: {self.updates} update{'s' * (self.updates != 1)}; tiles rendered so far: "
                           f"{len(self.renderer.rendered_tiles)}")
            self._schedule()

    def stop(self) -> None:
        """Stop following (a running render finishes in its thread; its result is dropped)."""
        if self._stopped:
            return
        self._stopped = True
        for emitter, handler in ((self.labels.events.paint, self._on_edit), (self.labels.events.set_data, self._on_edit),
                                 (self.labels.events.data, self._on_data)):
            try:
                emitter.disconnect(handler)
            except (RuntimeError, TypeError, ValueError):
                pass
        if self.worker is None:
            self.renderer.close()
        else:
            self.worker.finished.connect(self.renderer.close)
