"""The one base of the docked plots: a matplotlib figure in napari's theme colours.

:class:`PlotCanvas` owns the figure, its Qt canvas, the theme colours and the styling of axes,
labels and legends, and follows napari's theme (Preferences > Appearance): when the theme
changes it restyles every axes and legend and calls :meth:`PlotCanvas.draw_content`, so the
plot is drawn again in the new colours. Users only draw: a subclass overrides ``draw_content``
(the loss plot), or an owner passes its drawing method as ``content`` (the compare and
line-profile docks re-run their last draw).

matplotlib's Qt canvas rather than a napari plotting plugin: napari-matplotlib's widgets plot
one fixed thing each (a histogram of the current layer, a line of a features column) and would
add a dependency for what a Figure and ``FigureCanvasQTAgg`` do here in a few lines; its shape
(a small base class that owns figure and theme, subclasses that only draw) is the one taken.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
CHANNEL_COLOURS = ("#e04040", "#40b040", "#4070e0", "#a0a0a0")
#: Used where napari's settings cannot be read (napari's dark theme).
DEFAULT_COLOURS = ("#262930", "#f0f1f2", "#5a626c")


def _theme_colours(theme: str | None = None) -> tuple[str, str, str]:
    """(background, foreground, grid) of napari's theme ``theme`` (None: the current one),
    or napari's dark colours where the settings cannot be read."""
    try:
        from napari.settings import get_settings
        from napari.utils.theme import get_theme

        colours = get_theme(theme or get_settings().appearance.theme)
        return colours.background.as_hex(), colours.text.as_hex(), colours.primary.as_hex()
    except Exception:  # noqa: BLE001 - cosmetic only
        return DEFAULT_COLOURS


def _follow_theme(plot: PlotCanvas) -> None:
    """Call ``plot.apply_theme`` on each change of napari's theme setting.

    The connection holds ``plot`` only through a weak reference (a closed dock is not kept
    alive by napari's settings) and is removed when the widget is destroyed, or at the first
    change after its Python object is gone.
    """
    try:
        from napari.settings import get_settings

        emitter = get_settings().appearance.events.theme
    except Exception:  # noqa: BLE001 - no settings, nothing to follow
        return
    ref = weakref.ref(plot)

    def on_theme(event: Any = None) -> None:
        target = ref()
        if target is None:
            emitter.disconnect(on_theme)
        else:
            target.apply_theme(getattr(event, "value", None))

    emitter.connect(on_theme)
    plot.destroyed.connect(lambda *_: emitter.disconnect(on_theme))
    plot._theme_callback = on_theme  # for tests and for an explicit disconnect


class PlotCanvas(QWidget):
    """A matplotlib figure in napari's theme colours that follows theme changes.

    ``new_axes`` clears the figure and returns styled axes side by side; ``label`` and
    ``legend`` write in the theme's colours; ``draw`` schedules a repaint. ``content`` (or an
    override of :meth:`draw_content`) draws the plot again after a theme change.
    """

    def __init__(self, parent: QWidget | None = None, *, height: int = 200,
                 content: Callable[[], None] | None = None):
        super().__init__(parent)
        self.background, self.foreground, self.grid = _theme_colours()
        self._content = content
        self.figure = Figure(figsize=(3.2, 2.2), dpi=100, facecolor=self.background, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(height)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.draw_count = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        _follow_theme(self)

    # ----- styling ----------------------------------------------------------------------------
    def style_axes(self, ax: Axes) -> None:
        """Give ``ax`` (and its texts and legend) the current theme colours; grid visibility is kept."""
        ax.set_facecolor(self.background)
        for spine in ax.spines.values():
            spine.set_color(self.grid)
        ax.tick_params(colors=self.foreground, labelsize=7, grid_color=self.grid, grid_alpha=0.4,
                       grid_linewidth=0.5)
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
            text.set_color(self.foreground)
        legend = ax.get_legend()
        if legend is not None:
            legend.get_frame().set_facecolor(self.background)
            legend.get_frame().set_edgecolor(self.grid)
            for text in legend.get_texts():
                text.set_color(self.foreground)

    def new_axes(self, count: int = 1) -> list[Axes]:
        """Clear the figure; ``count`` styled axes side by side, with a grid."""
        self.figure.clear()
        axes = self.figure.subplots(1, count, squeeze=False)[0]
        for ax in axes:
            self.style_axes(ax)
            ax.grid(True)
        return list(axes)

    def label(self, ax: Axes, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
        ax.set_title(title, color=self.foreground, fontsize=8)
        ax.set_xlabel(xlabel, color=self.foreground, fontsize=8)
        ax.set_ylabel(ylabel, color=self.foreground, fontsize=8)

    def legend(self, ax: Axes, handles: Sequence[Any] | None = None, **kwargs: Any) -> None:
        """A legend in the theme's colours: of ``handles``, or of ``ax``'s labelled artists if any."""
        if handles is None and not ax.get_legend_handles_labels()[0]:
            return
        if handles is not None:
            kwargs["handles"] = list(handles)
        ax.legend(fontsize=7, **kwargs)
        self.style_axes(ax)

    def draw(self) -> None:
        self.canvas.draw_idle()
        self.draw_count += 1

    # ----- theme ------------------------------------------------------------------------------
    def apply_theme(self, theme: str | None = None) -> None:
        """Take the colours of napari's theme ``theme`` (None: the current), restyle, draw again."""
        self.background, self.foreground, self.grid = _theme_colours(theme)
        self.figure.set_facecolor(self.background)
        for ax in self.figure.axes:
            self.style_axes(ax)
        self.draw_content()

    def draw_content(self) -> None:
        """Draw the plot again in the current colours (called after a theme change).

        Here: re-run ``content`` once something was drawn, else repaint the restyled figure.
        Subclasses that keep their own artists override it.
        """
        if self._content is not None and self.draw_count:
            self._content()
        else:
            self.canvas.draw_idle()
