"""A docked matplotlib figure in napari's theme colours (the compare and line-profile docks).

matplotlib's Qt canvas rather than a napari plotting plugin: napari-matplotlib's widgets plot
one fixed thing each (a histogram of the current layer, a line of a features column) and would
add a dependency for what a Figure and ``FigureCanvasQTAgg`` do here in a few lines; the loss
plot of the training dock already uses the same canvas.
"""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from napari_vesselgan.widgets.loss_plot import _theme_colours

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
CHANNEL_COLOURS = ("#e04040", "#40b040", "#4070e0", "#a0a0a0")


class PlotCanvas(QWidget):
    """A figure with ``axes_count`` axes side by side; ``new_axes`` clears and restyles them."""

    def __init__(self, parent: QWidget | None = None, *, height: int = 200):
        super().__init__(parent)
        self.background, self.foreground, self.grid = _theme_colours()
        self.figure = Figure(figsize=(3.2, 2.2), dpi=100, facecolor=self.background, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(height)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.draw_count = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

    def new_axes(self, count: int = 1) -> list:
        self.figure.clear()
        axes = self.figure.subplots(1, count, squeeze=False)[0]
        for ax in axes:
            ax.set_facecolor(self.background)
            for spine in ax.spines.values():
                spine.set_color(self.grid)
            ax.tick_params(colors=self.foreground, labelsize=7)
            ax.grid(True, color=self.grid, alpha=0.4, linewidth=0.5)
        return list(axes)

    def label(self, ax, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
        ax.set_title(title, color=self.foreground, fontsize=8)
        ax.set_xlabel(xlabel, color=self.foreground, fontsize=8)
        ax.set_ylabel(ylabel, color=self.foreground, fontsize=8)

    def legend(self, ax) -> None:
        if ax.get_legend_handles_labels()[0]:
            legend = ax.legend(fontsize=7, facecolor=self.background, edgecolor=self.grid)
            for text in legend.get_texts():
                text.set_color(self.foreground)

    def draw(self) -> None:
        self.canvas.draw_idle()
        self.draw_count += 1
