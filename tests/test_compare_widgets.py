"""The "Compare layers" and "Line profile" docks, driven as a user drives them (under Xvfb)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_vesselgan.metrics import psnr, rmse, ssim  # noqa: E402
from napari_vesselgan.metrics.report import format_value  # noqa: E402
from napari_vesselgan.widgets.compare_widget import CompareWidget  # noqa: E402
from napari_vesselgan.widgets.profile_widget import LineProfileWidget  # noqa: E402

TIMEOUT = 60_000  # ms

pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 4000, (3, 40, 44), dtype=np.uint16)  # a time series
    noisy = np.clip(ref + rng.normal(0, 200, ref.shape), 0, 65535).astype(np.uint16)
    dim = (ref // 2).astype(np.uint16)
    return ref, noisy, dim


@pytest.fixture
def compare(make_napari_viewer, qtbot, images):
    viewer = make_napari_viewer()
    ref, noisy, dim = images
    viewer.add_image(ref, name="ref")
    viewer.add_image(noisy, name="noisy")
    viewer.add_image(dim, name="dim")
    viewer.add_image(np.zeros((3, 20, 20), np.float32), name="small")
    widget = CompareWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.set_reference("ref")
    widget.set_tests(["noisy", "dim"])
    return viewer, widget


def test_table_numbers_equal_the_metrics_module(click_and_wait, compare, qtbot, images, tmp_path):
    viewer, widget = compare
    ref, noisy, dim = images
    before = ref.copy()
    assert click_and_wait(widget, widget.compute) == "done"
    table = widget.table_values()
    assert [(r["layer"], r["frame"]) for r in table] == [
        ("noisy", 0), ("noisy", 1), ("noisy", 2), ("noisy", "mean"), ("dim", 0), ("dim", 1), ("dim", 2), ("dim", "mean")]
    for row in table:
        if row["frame"] == "mean":
            continue
        test = {"noisy": noisy, "dim": dim}[row["layer"]][row["frame"]]
        a = ref[row["frame"]]
        assert row["psnr"] == psnr(a, test, data_range=65535)
        assert row["ssim"] == ssim(a, test, data_range=65535)
        assert row["rmse"] == rmse(a, test)
    assert widget.table.item(0, 2).text() == format_value(table[0]["psnr"])
    assert table[3]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in table[:3]]))
    assert widget.metrics_plot.draw_count >= 1
    assert np.array_equal(viewer.layers["ref"].data, before)

    path = widget.export_csv(tmp_path / "m.csv")
    with open(path, newline="") as handle:
        read = list(csv.DictReader(handle))
    assert len(read) == 8 and read[0]["reference"] == "ref" and float(read[1]["ssim"]) == table[1]["ssim"]


def test_mismatched_shapes_give_a_message_not_an_exception(click_and_wait, compare, qtbot):
    viewer, widget = compare
    widget.set_tests(["small"])
    widget.compute()
    assert not widget.busy
    assert "small left out" in widget.message_label.text() and "shapes differ" in widget.message_label.text()
    widget.set_tests(["small", "noisy"])
    assert click_and_wait(widget, widget.compute) == "done"
    assert {r["layer"] for r in widget.table_values()} == {"noisy"}
    assert "small left out" in widget.message_label.text()


def test_maps_are_added_with_colormaps(click_and_wait, compare, qtbot, images):
    viewer, widget = compare
    ref, noisy, _ = images
    widget.set_tests(["noisy"])
    assert click_and_wait(widget, lambda: widget.add_maps("difference")) == "done"
    diff = viewer.layers["|noisy - ref|"]
    assert np.allclose(diff.data, np.abs(noisy.astype(float) - ref))
    assert diff.colormap.name == "magma" and diff.contrast_limits[0] == 0
    assert click_and_wait(widget, lambda: widget.add_maps("ssim")) == "done"
    smap = viewer.layers["SSIM noisy vs ref"]
    assert smap.data.shape == ref.shape and smap.contrast_limits[1] == 1.0
    assert click_and_wait(widget, lambda: widget.add_maps("ssim")) == "done"  # replaced, not duplicated
    assert sum(layer.name.startswith("SSIM noisy") for layer in viewer.layers) == 1


def test_report_and_histograms(click_and_wait, compare, qtbot, tmp_path):
    viewer, widget = compare
    widget.set_tests(["noisy", "dim", "small"])
    assert click_and_wait(widget, lambda: widget.write_report(tmp_path / "c.html")) == "done"
    assert "small: explainable metrics only" in widget.message_label.text()
    text = (tmp_path / "c.html").read_text()
    assert "data:image/png;base64," in text and "noisy" in text
    with open(tmp_path / "c.csv", newline="") as handle:
        read = list(csv.DictReader(handle))
    roles = [r["role"] for r in read]
    assert roles.count("reference") == 4 and roles.count("test") == 12
    small = [r for r in read if r["layer"] == "small"]
    assert small[0]["psnr"] == "" and "shapes differ" in small[0]["note"] and small[0]["entropy"] != ""
    assert {r["layer"] for r in widget.table_values()} == {"noisy", "dim"}
    assert click_and_wait(widget, widget.show_histograms) == "done"
    assert set(widget.histograms) == {"ref", "noisy", "dim", "small"}  # any shapes
    counts, edges, _ = widget.histograms["ref"]
    assert counts.sum() == viewer.layers["ref"].data.size
    assert widget.histogram_plot.draw_count >= 1


def test_fid_kid_from_layers_with_random_weights(click_and_wait, compare, qtbot):
    viewer, widget = compare
    widget.set_distribution_source(0, "ref")
    widget.set_distribution_source(1, "dim")
    widget.weights_edit.setText("random")
    widget.subsets_spin.setValue(3)
    assert click_and_wait(widget, widget.compute_distribution) == "done"
    assert widget.distribution["n_a"] == 3 and widget.distribution["fid"] > 0  # two different stacks
    assert "FID" in widget.fid_label.text() and "only test" in widget.fid_label.text()


def test_fid_without_weights_says_which_file(click_and_wait, compare, qtbot, tmp_path, monkeypatch):
    import torch

    viewer, widget = compare
    errors = []
    widget.report_error = errors.append
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("off")))
    widget.set_distribution_source(0, "ref")
    widget.set_distribution_source(1, "dim")
    assert click_and_wait(widget, widget.compute_distribution) == "error"
    assert "pt_inception-2015-12-05-6726825d.pth" in errors[0]
    assert not widget.busy and widget.fid_button.isEnabled()


def test_line_profile_updates_when_the_line_moves(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    ramp = np.tile(np.arange(64, dtype=np.float32), (48, 1))  # value = column
    viewer.add_image(ramp, name="ramp")
    viewer.add_image(ramp * 2, name="double", scale=(2.0, 2.0))  # half the pixels, same world extent /2
    widget = LineProfileWidget(viewer)
    viewer.window.add_dock_widget(widget)
    with qtbot.waitSignal(widget.profile_updated, timeout=TIMEOUT):
        shapes = viewer.add_shapes([np.array([[10.0, 5.0], [10.0, 25.0]])], shape_type="line", name="line")
    assert widget.shapes_combo.currentText() == "line"
    profiles = widget.result["profiles"]
    assert np.allclose(widget.result["distance"], np.arange(21))
    assert np.allclose(profiles["ramp"], np.arange(5, 26))
    # world column c is pixel c / 2 of the scaled layer, whose value there is 2 * (c / 2)
    assert np.allclose(profiles["double"], np.arange(5, 26))
    with qtbot.waitSignal(widget.profile_updated, timeout=TIMEOUT):
        shapes.data = [np.array([[10.0, 30.0], [20.0, 30.0]])]  # a vertical line at column 30
    assert np.allclose(widget.result["profiles"]["ramp"], 30.0)
    assert len(widget.result["distance"]) == 11
    path = widget.export_csv(tmp_path / "p.csv")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["distance", "ramp", "double"] and float(rows[3]["ramp"]) == 30.0
    with qtbot.waitSignal(widget.profile_updated, timeout=TIMEOUT):
        widget.set_layers(["ramp"])
    assert list(widget.result["profiles"]) == ["ramp"]
    widget.shutdown()


def test_line_profile_of_a_time_series_follows_the_frame(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    series = np.stack([np.full((30, 30), float(t)) for t in range(4)])
    viewer.add_image(series, name="series")
    widget = LineProfileWidget(viewer)
    viewer.window.add_dock_widget(widget)
    viewer.dims.set_current_step(0, 2)
    with qtbot.waitSignal(widget.profile_updated, timeout=TIMEOUT):
        viewer.add_shapes([np.array([[5.0, 5.0], [5.0, 15.0]])], shape_type="line", name="line")
    assert np.allclose(widget.result["profiles"]["series"], 2.0)
    with qtbot.waitSignal(widget.profile_updated, timeout=TIMEOUT):
        viewer.dims.set_current_step(0, 3)
    assert np.allclose(widget.result["profiles"]["series"], 3.0)


def test_lpips_column_with_explicit_random_weights(click_and_wait, compare, qtbot):
    from napari_vesselgan.metrics.perceptual import lpips
    from napari_vesselgan.nn.lpips import lpips_network

    viewer, widget = compare
    ref, noisy = viewer.layers["ref"].data, viewer.layers["noisy"].data
    widget.set_tests(["noisy"])
    widget.lpips_check.setChecked(True)
    widget.lpips_combo.setCurrentText("squeeze")
    widget.lpips_weights = ("random", "random")
    assert click_and_wait(widget, widget.compute) == "done"
    table = widget.table_values()
    assert widget.table.horizontalHeaderItem(5).text() == "LPIPS"
    network = lpips_network("squeeze", "random", "random")
    assert table[1]["lpips"] == pytest.approx(lpips(ref[1], noisy[1], network), rel=1e-5)


def test_lpips_without_weights_is_an_error_naming_the_files(click_and_wait, compare, qtbot, tmp_path, monkeypatch):
    import torch

    viewer, widget = compare
    errors = []
    widget.report_error = errors.append
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("off")))
    widget.lpips_check.setChecked(True)
    assert click_and_wait(widget, widget.compute) == "error"
    assert "alexnet-owt-7be5be79.pth" in errors[0]


def test_rgb_time_series_and_colour_against_grey(click_and_wait, make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(7)
    ref = rng.integers(0, 255, (2, 32, 36, 3), dtype=np.uint8)
    test = np.clip(ref + rng.normal(0, 8, ref.shape), 0, 255).astype(np.uint8)
    viewer.add_image(ref, name="ref", rgb=True)
    viewer.add_image(test, name="test", rgb=True)
    viewer.add_image(ref[..., 0], name="grey")
    widget = CompareWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.set_reference("ref")
    widget.set_tests(["test", "grey"])
    assert click_and_wait(widget, widget.compute) == "done"
    assert "grey left out" in widget.message_label.text() and "colour" in widget.message_label.text()
    table = widget.table_values()
    assert [(r["layer"], r["frame"]) for r in table] == [("test", 0), ("test", 1), ("test", "mean")]
    assert table[1]["ssim"] == ssim(ref[1], test[1], data_range=255)
    assert click_and_wait(widget, lambda: widget.add_maps("difference")) == "done"
    assert viewer.layers["|test - ref|"].data.shape == (2, 32, 36)  # mean over the channels
