"""What a person meets in the docks (issue 17): the training dock, Mask to NIR-II's defaults,
the compare dock's scale and table, re-runs, progress after success, no tracebacks for user errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_vesselgan.widgets.train_widget import TrainWidget  # noqa: E402

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def choose_method(widget: TrainWidget, name: str) -> None:
    widget.method_combo.setCurrentIndex(widget.method_combo.findData(name))


def test_training_dock_with_a_single_discriminator(click_and_wait, make_napari_viewer, qtbot, tmp_path, errors):
    viewer = make_napari_viewer()
    widget = TrainWidget(viewer)
    viewer.window.add_dock_widget(widget)
    choose_method(widget, "fundus2ffa")
    # before a run the bar reads the steps the dock will train, not "0 / 1"
    assert widget.progress.text() == f"0 / {widget.steps_spin.value()} steps"
    widget.steps_spin.setValue(3)
    assert widget.progress.text() == "0 / 3 steps"
    # short box titles; the long description is wrapped inside, not clipped
    assert widget.box_a.title() == "Fundus photos" and widget.detail_a.wordWrap()
    assert widget.box_b.title() == "Late-phase FFA images" and "registered" in widget.detail_b.text()

    widget.set_preset("test")
    widget.steps_spin.setValue(2)
    widget.set_run_dir(tmp_path / "run")
    assert click_and_wait(widget, widget.train_button) == "done", errors
    status_seen = widget.last_result is not None
    assert status_seen
    plot = widget.loss_plot
    assert plot.legend_labels() == ["generator (G)", "discriminator"]  # no D_A / D_B of a CycleGAN
    shown = [plot.lines[key].get_color() for key in ("G", "D")]
    assert len(set(shown)) == 2


def test_training_status_names_the_losses_the_run_reports():
    from napari_vesselgan.widgets.train_widget import loss_text

    assert loss_text({"G": 1.5, "D": 0.25, "G_L1": 3.0}) == "G 1.500, D 0.250"
    assert loss_text({"G": 1.0, "D_A": 0.5, "D_B": 0.75}) == "G 1.000, D_A 0.500, D_B 0.750"
    assert "nan" not in loss_text({"G": 1.0, "D": 0.5})


def test_feature_losses_can_be_switched_off_or_given_a_file_in_the_dock(make_napari_viewer, tmp_path, qtbot, errors):
    viewer = make_napari_viewer()
    widget = TrainWidget(viewer)
    choose_method(widget, "fundus2ffa")
    assert widget.build_config().perceptual  # the default preset wants ImageNet VGG19
    widget.set_feature_losses("off")
    assert widget.build_config().perceptual is False
    weights = tmp_path / "vgg19.pth"
    widget.set_feature_losses("file", weights)
    config = widget.build_config()
    assert config.perceptual and config.perceptual_weights == str(weights)

    choose_method(widget, "mask2nir")
    widget.set_feature_losses("off")
    assert not widget.build_config().feature_losses_on
    choose_method(widget, "denoise")  # no feature losses: no choice shown
    assert widget.features_combo.isHidden()

    # offline, the failure names the dock's own way out
    choose_method(widget, "fundus2ffa")
    widget.set_preset("test")
    widget.set_feature_losses("file", tmp_path / "missing.pth")
    widget.steps_spin.setValue(1)
    widget.set_run_dir(tmp_path / "run")
    with qtbot.waitSignal(widget.run_finished, timeout=60_000):
        widget.train()
    assert errors and "missing.pth" in errors[-1] and "Feature losses" in errors[-1]
