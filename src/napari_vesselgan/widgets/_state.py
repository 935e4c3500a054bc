"""State that the widgets of one viewer share, kept per viewer (never in module globals).

Today this is the weights of the last training run per method: the training widget records
them when a run ends, and the denoise widget offers them as "weights from the last training
run". Each viewer gets its own :class:`ViewerState`, created on first use and dropped when
the viewer is garbage-collected, so two viewers (or two tests) never see each other's runs.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from psygnal import Signal


class ViewerState:
    """What the widgets of one viewer share."""

    #: Emitted with (method name, weights path) when a training run exports weights.
    trained_weights_changed = Signal(str, object)

    def __init__(self) -> None:
        self._trained: dict[str, Path] = {}

    def trained_weights(self, method: str) -> Path | None:
        """Weights of the last training run of ``method`` in this viewer (None if none)."""
        return self._trained.get(method)

    def set_trained_weights(self, method: str, path: str | Path) -> None:
        self._trained[method] = Path(path)
        self.trained_weights_changed.emit(method, Path(path))


# id(viewer) -> its state; each entry is removed by a finalizer when its viewer is collected,
# before the id can be reused.
_STATES: dict[int, ViewerState] = {}


def state_for(viewer: Any) -> ViewerState:
    """The shared state of ``viewer`` (created on first use).

    napari hands plugin widgets a fresh ``PublicOnlyProxy`` of the viewer each; the state is
    keyed by the viewer behind the proxy, so all widgets of one viewer share it.
    """
    viewer = getattr(viewer, "__wrapped__", viewer)
    key = id(viewer)
    state = _STATES.get(key)
    if state is None:
        state = _STATES[key] = ViewerState()
        weakref.finalize(viewer, _STATES.pop, key, None)
    return state


def fill_layer_combo(combo: Any, layers: list, viewer: Any, *, none_item: str | None = None,
                     preferred: Any = None) -> None:
    """Refill ``combo`` with ``layers`` (data = the layer) without emitting signals.

    The choice survives when its layer is still listed; otherwise the viewer's active layer, or
    the top one, is chosen (or ``none_item``, a first entry with data None, when given). With
    ``preferred`` (a test of a layer), only layers that pass it are chosen that way while any do.
    """
    current = combo.currentData()
    combo.blockSignals(True)
    try:
        combo.clear()
        if none_item is not None:
            combo.addItem(none_item, None)
        offset = int(none_item is not None)
        for layer in layers:
            combo.addItem(layer.name, layer)
        if current is not None and current in layers:
            combo.setCurrentIndex(layers.index(current) + offset)
        elif none_item is None and layers:
            candidates = [layer for layer in layers if preferred(layer)] if preferred is not None else []
            candidates = candidates or layers
            active = viewer.layers.selection.active
            chosen = active if active in candidates else candidates[-1]
            combo.setCurrentIndex(layers.index(chosen))
    finally:
        combo.blockSignals(False)


class LayerWatcher:
    """Calls ``callback()`` when layers are added, removed, reordered or renamed in ``viewer``.

    Holds only napari's own (weak, for bound methods) connections; ``close()`` removes them.
    """

    def __init__(self, viewer: Any, callback: Any):
        self.viewer = viewer
        self.callback = callback
        events = viewer.layers.events
        for emitter in (events.inserted, events.removed, events.moved, events.reordered):
            emitter.connect(self._on_list_change)
        for layer in viewer.layers:
            layer.events.name.connect(self._on_rename)

    def _on_list_change(self, event: Any = None) -> None:
        value = getattr(event, "value", None)
        if getattr(event, "type", "") == "inserted" and value is not None:
            value.events.name.connect(self._on_rename)
        elif getattr(event, "type", "") == "removed" and value is not None:
            value.events.name.disconnect(self._on_rename)
        self.callback()

    def _on_rename(self, event: Any = None) -> None:
        self.callback()

    def close(self) -> None:
        events = self.viewer.layers.events
        for emitter in (events.inserted, events.removed, events.moved, events.reordered):
            emitter.disconnect(self._on_list_change)
        for layer in self.viewer.layers:
            layer.events.name.disconnect(self._on_rename)
