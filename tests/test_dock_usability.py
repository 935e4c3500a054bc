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


# ----- Mask to NIR-II: Labels first, a word on non-binary images; re-runs; progress -----------------
def test_mask2nir_defaults_to_labels_warns_on_grey_images_and_keeps_other_settings_results(
        click_and_wait, make_napari_viewer, qtbot, tiny_weights, monkeypatch, errors):
    import napari.utils.notifications

    from napari_vesselgan.widgets.mask2nir_widget import Mask2NirWidget

    warnings: list[str] = []
    monkeypatch.setattr(napari.utils.notifications, "show_warning", lambda message, *a, **k: warnings.append(message))
    viewer = make_napari_viewer()
    mask = np.zeros((64, 64), np.uint8)
    mask[28:36, :] = 1
    viewer.add_labels(mask, name="mask")
    viewer.add_image(np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64), name="photo")  # active, on top
    widget = Mask2NirWidget(viewer)
    assert widget.selected_layer().name == "mask"  # the Labels layer, not the active grey image
    widget.set_weights_file(tiny_weights("mask2nir"))

    assert click_and_wait(widget, widget.run_button) == "done"
    assert not warnings
    assert widget.progress.value() == widget.progress.maximum() > 0  # 100 % after success
    assert "'mask NIR-II (synthetic)' added" in widget.status_label.text()
    assert click_and_wait(widget, widget.run_button) == "done"  # same settings: replaced
    assert "'mask NIR-II (synthetic)' replaced" in widget.status_label.text()
    widget.tile_spin.setValue(32)  # other settings: the earlier result stays
    assert click_and_wait(widget, widget.run_button) == "done"
    names = [layer.name for layer in viewer.layers]
    assert names.count("mask NIR-II (synthetic)") == 1 and "mask NIR-II (synthetic) [1]" in names
    assert "'mask NIR-II (synthetic) [1]' added" in widget.status_label.text()

    widget.set_layer("photo")
    assert click_and_wait(widget, widget.run_button) == "done"
    assert len(warnings) == 1 and "'photo' is not a binary mask" in warnings[0]
    assert not errors


def test_progress_reads_100_percent_after_success_in_the_saliency_dock(click_and_wait, make_napari_viewer):
    from napari_vesselgan.widgets.saliency_widget import SaliencyWidget

    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(0).random((40, 40)).astype(np.float32), name="ffa")
    widget = SaliencyWidget(viewer)
    widget.median_spin.setValue(5)
    assert click_and_wait(widget, widget.run_button) == "done"
    assert widget.progress.value() == widget.progress.maximum() > 0


def test_hints_name_menu_entries_that_exist():
    import re
    from pathlib import Path

    import yaml

    import napari_vesselgan

    package = Path(napari_vesselgan.__file__).parent
    manifest = yaml.safe_load((package / "napari.yaml").read_text())
    samples = {entry["display_name"] for entry in manifest["contributions"]["sample_data"]}
    widgets = {entry["display_name"] for entry in manifest["contributions"]["widgets"]}
    # the widgets' texts, with Python's implicit string concatenation undone
    text = " ".join(path.read_text() for path in (package / "widgets").glob("*.py"))
    text = re.sub(r'"\s*\n\s*"', "", text)
    after_menu = text.split("Open Sample > VesselGAN > ")[1:]
    assert after_menu
    for rest in after_menu:
        assert any(rest.startswith(name) for name in samples), rest[:60]
    for name in re.findall(r"the '([^']+)' widget", text) + re.findall(r"with '([^']+)'", text):
        assert name in widgets, name


# ----- expected user errors: a notification, no traceback -------------------------------------------
def test_user_errors_print_no_traceback_but_bugs_do(click_and_wait, make_napari_viewer, capfd, errors, monkeypatch):
    import logging
    import sys

    from napari_vesselgan.widgets import _method_widget
    from napari_vesselgan.widgets.denoise_widget import DenoiseWidget

    console = logging.StreamHandler(sys.stderr)  # what a napari user's terminal shows
    logging.getLogger().addHandler(console)
    try:
        viewer = make_napari_viewer()
        viewer.add_image(np.zeros((3, 3), np.uint16), name="tiny")  # too small: a user's error
        widget = DenoiseWidget(viewer)
        assert click_and_wait(widget, widget.run_button) == "error"
        assert errors and "too small" in errors[-1]
        assert "Traceback" not in capfd.readouterr().err

        def broken(*args, **kwargs):
            raise ZeroDivisionError("a bug")

        monkeypatch.setattr(_method_widget, "run_prediction", broken)
        assert click_and_wait(widget, widget.run_button) == "error"
        err = capfd.readouterr().err
        assert "Traceback" in err and "ZeroDivisionError" in err
    finally:
        logging.getLogger().removeHandler(console)


# ----- compare dock: the scale used, whole names, Frame only for series -------------------------------
def test_compare_dock_says_which_scale_and_keeps_names_apart(click_and_wait, make_napari_viewer):
    from napari_vesselgan.metrics.compare import fidelity_rows
    from napari_vesselgan.widgets.compare_widget import CompareWidget, short_name

    rng = np.random.default_rng(5)
    real = rng.integers(0, 256, (48, 48), dtype=np.uint8)
    fake = np.clip(real / 255.0 + rng.normal(0, 0.05, real.shape), 0, 1).astype(np.float32)
    viewer = make_napari_viewer()
    viewer.add_image(real, name="late-phase FFA (real)")
    viewer.add_image(fake, name="fundus photo of the left eye FFA (generated)")
    viewer.add_image(fake.copy(), name="fundus photo of the left eye FFA (generated, older)")
    widget = CompareWidget(viewer)
    widget.set_reference("late-phase FFA (real)")
    widget.set_tests(["fundus photo of the left eye FFA (generated)",
                      "fundus photo of the left eye FFA (generated, older)"])
    assert click_and_wait(widget, widget.compute) == "done"
    rows = widget.table_values()
    expected = fidelity_rows(real / 255.0, {"x": fake}, data_range=1.0)[0]
    assert rows[0]["psnr"] == expected["psnr"] and rows[0]["ssim"] == expected["ssim"]
    assert "one [0, 1] scale" in widget.scale_label.text() and "uint8 / 255" in widget.scale_label.text()
    assert widget.table.isColumnHidden(1)  # 2-D images: no empty Frame column
    names = [widget.table.item(i, 0).toolTip() for i in range(widget.table.rowCount())]
    assert len(set(names)) == 2
    assert len({short_name(name) for name in names}) == 2  # the plot's labels differ too


def test_vessel_mask_dock_is_narrow(make_napari_viewer):
    from napari_vesselgan.widgets.vessel_mask_widget import VesselMaskWidget

    widget = VesselMaskWidget(make_napari_viewer())
    assert widget.minimumSizeHint().width() < 400


def test_denoise_forgets_the_previous_result_after_a_failed_run(click_and_wait, make_napari_viewer, errors):
    from napari_vesselgan.widgets.denoise_widget import DenoiseWidget

    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(1).integers(0, 4000, (48, 48)).astype(np.uint16), name="low")
    widget = DenoiseWidget(viewer)
    assert click_and_wait(widget, widget.run_button) == "done"
    assert widget.table_values() and widget.report_button.isEnabled()
    viewer.add_image(np.zeros((3, 3), np.uint16), name="tiny")
    widget.set_layer("tiny")
    assert click_and_wait(widget, widget.run_button) == "error"
    assert not widget.table_values() and not widget.report_button.isEnabled()
