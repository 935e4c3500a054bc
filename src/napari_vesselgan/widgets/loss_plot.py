"""A small docked plot of training loss curves (matplotlib's Qt canvas, redrawn at most ~5 Hz)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

#: Curves shown by default: generator total and the two discriminators.
# CycleGANs report D_A and D_B, the paired GANs (fundus2ffa, fundus2video, superres) one D
DEFAULT_CURVES: dict[str, str] = {"G": "generator (G)", "D_A": "discriminator A", "D_B": "discriminator B",
                                  "D": "discriminator"}
_COLOURS = {"G": "#ff7f0e", "D_A": "#1f77b4", "D_B": "#2ca02c", "D": "#1f77b4"}


def _theme_colours() -> tuple[str, str, str]:
    """(background, foreground, grid) of napari's current theme, or a dark default."""
    try:
        from napari.settings import get_settings
        from napari.utils.theme import get_theme

        theme = get_theme(get_settings().appearance.theme)
        return theme.background.as_hex(), theme.text.as_hex(), theme.primary.as_hex()
    except Exception:  # noqa: BLE001 - cosmetic only
        return "#262930", "#f0f1f2", "#5a626c"


class LossPlot(QWidget):
    """Loss curves against the training step. ``add_points`` is cheap; drawing is throttled."""

    min_interval = 0.2  # seconds between redraws
    max_points_drawn = 4000  # per curve; all points are kept in ``points``

    def __init__(self, curves: Mapping[str, str] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.curves = dict(curves or DEFAULT_CURVES)
        self.points: dict[str, tuple[list[int], list[float]]] = {key: ([], []) for key in self.curves}
        self.draw_count = 0
        self._last_draw = 0.0
        self._dirty = False

        background, foreground, grid = _theme_colours()
        self.figure = Figure(figsize=(3.2, 2.2), dpi=100, facecolor=background, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(170)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.axes = self.figure.add_subplot(1, 1, 1)
        self.axes.set_facecolor(background)
        for spine in self.axes.spines.values():
            spine.set_color(grid)
        self.axes.tick_params(colors=foreground, labelsize=7)
        self.axes.set_xlabel("step", color=foreground, fontsize=8)
        self.axes.set_ylabel("generator loss", color=foreground, fontsize=8)
        self.axes.grid(True, color=grid, alpha=0.4, linewidth=0.5)
        # discriminator losses are ~100x smaller than the generator's: their own axis on the right
        self.d_axes = self.axes.twinx()
        self.d_axes.tick_params(colors=foreground, labelsize=7)
        self.d_axes.set_ylabel("discriminator loss", color=foreground, fontsize=8)
        for spine in self.d_axes.spines.values():
            spine.set_color(grid)
        self.lines = {
            key: self._axes_for(key).plot([], [], label=label, color=_COLOURS.get(key), linewidth=1.2)[0]
            for key, label in self.curves.items()
        }
        legend = self.axes.legend(handles=list(self.lines.values()), fontsize=7, loc="upper right",
                                  facecolor=background, edgecolor=grid)
        for text in legend.get_texts():
            text.set_color(foreground)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.redraw)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

    def _axes_for(self, key: str):
        return self.d_axes if key.startswith("D") else self.axes

    # ----- data -----------------------------------------------------------------------------
    def clear(self) -> None:
        for steps, values in self.points.values():
            steps.clear()
            values.clear()
        self.redraw()

    def add_point(self, step: int, losses: Mapping[str, float]) -> None:
        self.add_points([(step, losses)])

    def add_points(self, points: Iterable[tuple[int, Mapping[str, float]]]) -> None:
        """Append (step, {curve: value}) points; the plot redraws within ``min_interval``."""
        for step, losses in points:
            for key, (steps, values) in self.points.items():
                value = losses.get(key)
                if value is not None and math.isfinite(float(value)):
                    steps.append(int(step))
                    values.append(float(value))
        self._dirty = True
        wait = self._last_draw + self.min_interval - time.monotonic()
        if wait <= 0:
            self.redraw()
        elif not self._timer.isActive():
            self._timer.start(int(wait * 1000) + 1)

    # ----- drawing --------------------------------------------------------------------------
    def redraw(self) -> None:
        for key, line in self.lines.items():
            steps, values = self.points[key]
            stride = max(1, len(steps) // self.max_points_drawn)  # long runs: draw every n-th point
            line.set_data(steps[::stride], values[::stride])
        for axes in (self.axes, self.d_axes):
            axes.relim()
            axes.autoscale_view()
        self.canvas.draw_idle()
        self.draw_count += 1
        self._last_draw = time.monotonic()
        self._dirty = False
