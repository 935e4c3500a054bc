"""The docked plots follow napari's theme (Preferences > Appearance > theme) and let go of it."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from matplotlib.colors import to_hex  # noqa: E402
from napari.settings import get_settings  # noqa: E402
from napari.utils.theme import get_theme  # noqa: E402

from napari_vesselgan.widgets._plot import PlotCanvas  # noqa: E402
from napari_vesselgan.widgets.compare_widget import CompareWidget  # noqa: E402
from napari_vesselgan.widgets.loss_plot import LossPlot  # noqa: E402


@pytest.fixture
def theme():
    """Set napari's theme by name; the theme before the test is restored after it."""
    appearance = get_settings().appearance
    before = appearance.theme

    def set_theme(name: str) -> tuple[str, str, str]:
        appearance.theme = name
        colours = get_theme(name)
        return colours.background.as_hex(), colours.text.as_hex(), colours.primary.as_hex()

    yield set_theme
    appearance.theme = before


def assert_styled(figure, axes, colours) -> None:
    """The figure and each of ``axes`` (their face, spines, tick labels, axis labels) in ``colours``."""
    background, foreground, grid = colours
    assert to_hex(figure.get_facecolor()) == background
    for ax in axes:
        assert to_hex(ax.get_facecolor()) == background
        assert {to_hex(spine.get_edgecolor()) for spine in ax.spines.values()} == {grid}
        assert {to_hex(label.get_color()) for label in ax.get_yticklabels()} == {foreground}
        assert to_hex(ax.yaxis.label.get_color()) == foreground


def test_plots_follow_the_theme(make_napari_viewer, qtbot, theme):
    viewer = make_napari_viewer()
    dark = theme("dark")
    loss = LossPlot()
    viewer.window.add_dock_widget(loss)
    loss.add_points([(1, {"G": 2.0, "D_A": 0.2, "D_B": 0.3}), (2, {"G": 1.5, "D_A": 0.25, "D_B": 0.2})])
    loss.redraw()
    compare = CompareWidget(viewer)
    viewer.window.add_dock_widget(compare)
    compare.show_rows([{"layer": "a", "frame": None, "psnr": 30.0, "ssim": 0.9, "rmse": 0.1},
                       {"layer": "b", "frame": None, "psnr": 25.0, "ssim": 0.8, "rmse": 0.2}])
    plot = compare.metrics_plot
    assert_styled(loss.figure, [loss.axes, loss.d_axes], dark)
    assert_styled(plot.figure, plot.figure.axes, dark)

    for name in ("light", "dark"):
        loss_draws, plot_draws = loss.draw_count, plot.draw_count
        histogram_draws = compare.histogram_plot.draw_count
        colours = theme(name)
        # the loss plot restyled its own axes and drew its curves again, data kept
        assert_styled(loss.figure, [loss.axes, loss.d_axes], colours)
        assert {to_hex(t.get_color()) for t in loss.axes.get_legend().get_texts()} == {colours[1]}
        assert to_hex(loss.axes.get_legend().get_frame().get_facecolor()) == colours[0]
        assert loss.draw_count == loss_draws + 1
        assert list(loss.lines["G"].get_ydata()) == [2.0, 1.5]
        # the compare dock's metrics plot was drawn again (one bar chart per metric) in the new colours
        assert plot.draw_count == plot_draws + 1
        assert len(plot.figure.axes) == 3
        assert_styled(plot.figure, plot.figure.axes, colours)
        assert [to_hex(bar.get_facecolor()) for bar in plot.figure.axes[0].patches] == ["#1f77b4", "#ff7f0e"]
        # a plot with nothing drawn yet only changes its background
        assert compare.histogram_plot.draw_count == histogram_draws
        assert to_hex(compare.histogram_plot.figure.get_facecolor()) == colours[0]
    assert theme("light") != dark  # the two themes differ, so the checks above mean something


def test_a_plot_is_not_kept_alive_by_the_theme_connection(qtbot, theme):
    emitter = get_settings().appearance.events.theme
    plot = PlotCanvas()
    callback = plot._theme_callback
    assert callback in emitter.callbacks
    (ax,) = plot.new_axes(1)
    ax.plot(np.arange(3))
    plot.draw()
    ref = weakref.ref(plot)
    del plot, ax
    gc.collect()
    assert ref() is None
    assert callback not in emitter.callbacks  # disconnected when the widget was destroyed
    theme("light")  # and nothing fails on a later change
