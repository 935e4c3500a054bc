"""A small docked plot of training loss curves (matplotlib's Qt canvas, redrawn at most ~5 Hz)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QWidget

from napari_vesselgan.widgets._plot import PlotCanvas

#: Curves the plot knows: generator total and the discriminators. CycleGANs report D_A and D_B,
#: the paired GANs (fundus2ffa, fundus2video, superres) one D, fundus2ffa with a realism term
#: also D_realism; only curves with data are drawn and listed in the legend, each in its own colour.
DEFAULT_CURVES: dict[str, str] = {"G": "generator (G)", "D_A": "discriminator A", "D_B": "discriminator B",
                                  "D": "discriminator", "D_realism": "realism discriminator"}
_COLOURS = {"G": "#ff7f0e", "D_A": "#1f77b4", "D_B": "#2ca02c", "D": "#9467bd", "D_realism": "#8c564b"}


class LossPlot(PlotCanvas):
    """Loss curves against the training step. ``add_points`` is cheap; drawing is throttled.

    Figure, canvas and theme are :class:`PlotCanvas`'s; this class only keeps the points and
    draws the curves (also after a theme change, through :meth:`draw_content`).
    """

    min_interval = 0.2  # seconds between redraws
    max_points_drawn = 4000  # per curve; all points are kept in ``points``

    def __init__(self, curves: Mapping[str, str] | None = None, parent: QWidget | None = None):
        super().__init__(parent, height=170)
        self.curves = dict(curves or DEFAULT_CURVES)
        self.points: dict[str, tuple[list[int], list[float]]] = {key: ([], []) for key in self.curves}
        self._last_draw = 0.0
        self._dirty = False

        (self.axes,) = self.new_axes(1)
        # discriminator losses are ~100x smaller than the generator's: their own axis on the right
        self.d_axes = self.axes.twinx()
        self.style_axes(self.d_axes)
        self.label(self.axes, xlabel="step", ylabel="generator loss")
        self.label(self.d_axes, ylabel="discriminator loss")
        self.lines = {
            key: self._axes_for(key).plot([], [], label=label, color=_COLOURS.get(key), linewidth=1.2)[0]
            for key, label in self.curves.items()
        }
        self._legend_keys: tuple[str, ...] = ()

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.redraw)

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
        shown = tuple(key for key in self.lines if self.points[key][0])
        if shown != self._legend_keys:  # the legend lists the curves the run reports, no more
            self._legend_keys = shown
            legend = self.axes.get_legend()
            if legend is not None:
                legend.remove()
            if shown:
                self.legend(self.axes, handles=[self.lines[key] for key in shown], loc="upper right")
        for axes in (self.axes, self.d_axes):
            axes.relim()
            axes.autoscale_view()
        self.draw()
        self._last_draw = time.monotonic()
        self._dirty = False

    def legend_labels(self) -> list[str]:
        """The labels the legend shows (what the user reads)."""
        legend = self.axes.get_legend()
        return [text.get_text() for text in legend.get_texts()] if legend is not None else []

    def draw_content(self) -> None:
        """After a theme change (axes already restyled): draw the curves again."""
        self.redraw()
