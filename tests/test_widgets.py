"""The dock widgets, driven the way a user drives them (clicks, then wait for the worker).

Run under Xvfb (pytest-xvfb starts it by itself); see NAPARI-NOTES.md.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from qtpy.QtCore import Qt  # noqa: E402

from napari_vesselgan import methods  # noqa: E402
from napari_vesselgan.data import lowlight_pair  # noqa: E402
from napari_vesselgan.metrics import EXPLAINABLE_METRICS, explainable_metrics  # noqa: E402
from napari_vesselgan.widgets._state import state_for  # noqa: E402
from napari_vesselgan.widgets.denoise_widget import DenoiseWidget  # noqa: E402
from napari_vesselgan.widgets.train_widget import TrainWidget  # noqa: E402

RUN_TIMEOUT = 60_000  # ms

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def assert_idle(widget, run_button) -> None:
    assert not widget.busy
    assert run_button.isEnabled()
    assert not widget.cancel_button.isEnabled()
    assert widget.progress.value() <= 0 or widget.progress.value() == widget.progress.maximum()


# ----- the worker pattern -------------------------------------------------------------------------
def drain(generator) -> tuple[list, object]:
    """Run a run_with_progress generator to its end: (all yielded items, returned value)."""
    items = []
    while True:
        try:
            items.extend(next(generator))
        except StopIteration as stop:
            return items, stop.value


def test_run_with_progress_delivers_every_item_in_batches():
    import threading

    from napari_vesselgan.widgets._workers import run_with_progress

    def job(report):
        for i in range(50):
            report(i)
        return "result"

    batches: list[list] = []
    generator = run_with_progress(job, threading.Event(), interval=0.05)
    while True:
        try:
            batches.append(next(generator))
        except StopIteration as stop:
            assert stop.value == "result"
            break
    assert [i for batch in batches for i in batch] == list(range(50))
    assert all(batches)  # no empty yields


def test_run_with_progress_wraps_runtime_errors_and_cancels():
    import threading

    from napari_vesselgan.widgets._workers import Cancelled, JobError, describe_error, run_with_progress

    def failing(report):
        report("start")
        raise RuntimeError("shape mismatch in conv")

    # superqt's GeneratorWorker swallows a RuntimeError escaping the generator: it must be wrapped
    with pytest.raises(JobError) as caught:
        drain(run_with_progress(failing, threading.Event()))
    assert isinstance(caught.value.error, RuntimeError)
    assert describe_error(caught.value) == "RuntimeError: shape mismatch in conv"

    cancel = threading.Event()
    calls = []

    def long_job(report):
        for i in range(10_000):
            calls.append(i)
            if i == 3:
                cancel.set()  # as the Cancel button does
            report(i)
        return "finished"

    with pytest.raises(Cancelled):
        drain(run_with_progress(long_job, cancel))
    assert len(calls) == 4  # stopped at the first progress call after the cancel


def test_typed_messages_move_the_bar_and_the_status_and_the_context_comes_back(click_and_wait,
                                                                               make_napari_viewer, qtbot):
    import threading

    from qtpy.QtWidgets import QFormLayout

    from napari_vesselgan.jobs.messages import Phase, Progress
    from napari_vesselgan.widgets._job_widget import JobWidget

    release = threading.Event()

    def job(report, cancel):
        report(Phase("Halfway there..."))
        report(Progress(3, 7))
        release.wait(RUN_TIMEOUT / 1000)
        return 42

    class Dock(JobWidget):
        def __init__(self, viewer):
            super().__init__(viewer)
            self._lay_out(QFormLayout(), "Run", lambda: self._start_job(job, "Starting...", context="the context"))

        def _on_return(self, result, context):
            self.returned = (result, context)
            self.last_outcome = "done"

    widget = Dock(make_napari_viewer())
    with qtbot.waitSignal(widget.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(widget.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: (widget.progress.value(), widget.progress.maximum()) == (3, 7), timeout=RUN_TIMEOUT)
        assert widget.status_label.text() == "Halfway there..."
        release.set()
    assert blocker.args == ["done"] and widget.returned == (42, "the context") and not widget.busy


def test_device_and_precision_choices_are_the_command_lines(make_napari_viewer):
    import torch

    from napari_vesselgan.methods.request import DEVICES, PRECISIONS

    viewer = make_napari_viewer()
    dock, train = DenoiseWidget(viewer), TrainWidget(viewer)
    for combo in (dock.device_combo, train.device_combo):
        assert tuple(combo.itemData(i) for i in range(combo.count())) == DEVICES
        cuda = combo.model().item(DEVICES.index("cuda"))
        assert cuda.isEnabled() == torch.cuda.is_available()
        assert cuda.isEnabled() or "CUDA" in cuda.toolTip()
        mps = combo.model().item(DEVICES.index("mps"))
        assert mps.isEnabled() == torch.backends.mps.is_available()
    combo = dock.precision_combo
    assert tuple(combo.itemData(i) for i in range(combo.count())) == PRECISIONS


# ----- denoise widget -----------------------------------------------------------------------------
def test_layer_choice_follows_the_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = DenoiseWidget(viewer)
    assert widget.layer_combo.count() == 0
    first = viewer.add_image(np.zeros((16, 16), np.uint16), name="first")
    viewer.add_image(np.zeros((16, 16, 3), np.uint8), name="colour", rgb=True)  # RGB: not offered
    assert [widget.layer_combo.itemText(i) for i in range(widget.layer_combo.count())] == ["first"]
    viewer.add_image(np.zeros((16, 16), np.float32), name="second")
    widget.set_layer("first")
    first.name = "renamed"
    assert [widget.layer_combo.itemText(i) for i in range(widget.layer_combo.count())] == ["renamed", "second"]
    assert widget.selected_layer() is first  # the choice survives the rename
    viewer.layers.remove(first)
    assert widget.layer_combo.currentText() == "second"


def test_denoise_run_adds_result_metrics_and_saliency(click_and_wait, make_napari_viewer, qtbot, tiny_weights,
                                                      tmp_path):
    viewer = make_napari_viewer()
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    low, _ = lowlight_pair((128, 128), seed=0)
    layer = viewer.add_image(low, name="lowlight", scale=(2.0, 0.5), translate=(3.0, 4.0))
    original = layer.data.copy()
    assert widget.layer_combo.currentText() == "lowlight"
    widget.set_weights_file(tiny_weights("denoise"))
    widget.device_combo.setCurrentText("cpu")
    widget.saliency_check.setChecked(True)

    assert click_and_wait(widget, widget.run_button) == "done"

    assert_idle(widget, widget.run_button)
    np.testing.assert_array_equal(layer.data, original)  # the input is untouched
    result = viewer.layers["lowlight denoised"]
    assert result.data.shape == low.shape and result.data.dtype == low.dtype
    assert not np.array_equal(result.data, low)
    np.testing.assert_allclose(result.scale, layer.scale)
    np.testing.assert_allclose(result.translate, layer.translate)
    np.testing.assert_allclose(result.contrast_limits, layer.contrast_limits)
    meta = result.metadata
    assert meta["method"] == "denoise"
    assert Path(meta["weights"]) == Path(tiny_weights("denoise"))
    assert meta["parameters"]["tile"] is None and meta["parameters"]["device"] == "cpu"
    assert meta["source_layer"] == "lowlight"
    assert [row["metric"] for row in meta["metrics"]] == list(EXPLAINABLE_METRICS)

    table = widget.table_values()
    assert list(table) == list(EXPLAINABLE_METRICS) and widget.metrics_table.rowCount() == 5
    before, after = explainable_metrics(original), explainable_metrics(result.data)
    for metric, (b, a, change) in table.items():
        assert b == pytest.approx(before[metric], rel=1e-9, abs=1e-12)
        assert a == pytest.approx(after[metric], rel=1e-9, abs=1e-12)
        assert change == pytest.approx(after[metric] - before[metric], rel=1e-9, abs=1e-12)
        assert widget.metrics_table.item(list(EXPLAINABLE_METRICS).index(metric), 0).text()

    saliency = viewer.layers["lowlight saliency"]
    assert saliency.data.shape == low.shape and saliency.data.dtype == np.float32
    assert 0.0 <= saliency.data.min() and saliency.data.max() <= 1.0
    assert saliency.colormap.name == "inferno" and saliency.blending == "additive"
    assert saliency.opacity == pytest.approx(0.6)
    np.testing.assert_allclose(saliency.scale, layer.scale)

    # a second run with the same settings replaces our own result instead of piling up layers
    n_layers = len(viewer.layers)
    assert click_and_wait(widget, widget.run_button) == "done"
    assert len(viewer.layers) == n_layers and "'lowlight denoised' replaced" in widget.status_label.text()
    # one with other settings keeps the earlier result beside the new one
    widget.saliency_check.setChecked(False)
    widget.tile_spin.setValue(64)
    assert click_and_wait(widget, widget.run_button) == "done"
    assert len(viewer.layers) == n_layers + 1 and "lowlight denoised [1]" in viewer.layers

    # the report of the last result
    assert widget.report_button.isEnabled()
    assert widget.save_report(tmp_path / "report") is not None
    qtbot.waitUntil(lambda: widget._report_worker is None, timeout=RUN_TIMEOUT)
    assert (tmp_path / "report" / "report.md").is_file() and (tmp_path / "report" / "metrics.json").is_file()


def test_denoise_cancel_adds_nothing_and_clears_busy_state(make_napari_viewer, qtbot, tiny_weights, hold_job):
    viewer = make_napari_viewer()
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    low, _ = lowlight_pair((256, 256), seed=1)
    layer = viewer.add_image(low, name="big")
    original = low.copy()
    widget.set_weights_file(tiny_weights("denoise"))
    widget.device_combo.setCurrentText("cpu")
    widget.tile_spin.setValue(64)  # many progress steps
    gate = hold_job(widget)  # the job waits after its first step until the Cancel click

    with qtbot.waitSignal(widget.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(widget.run_button, Qt.MouseButton.LeftButton)
        assert widget.busy and not widget.run_button.isEnabled() and widget.cancel_button.isEnabled()
        qtbot.waitUntil(lambda: widget.progress.maximum() > 1 and widget.progress.value() > 0, timeout=RUN_TIMEOUT)
        assert widget.progress.value() < widget.progress.maximum()
        qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert blocker.args == ["cancelled"]
    assert [lay.name for lay in viewer.layers] == ["big"]
    assert_idle(widget, widget.run_button)
    assert widget.progress.value() <= 0
    np.testing.assert_array_equal(layer.data, original)


@pytest.mark.parametrize("kind", ["random-bytes", "pickle"])
def test_denoise_bad_weights_reports_error(click_and_wait, make_napari_viewer, qtbot, tmp_path, errors, kind):
    viewer = make_napari_viewer()
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    viewer.add_image(lowlight_pair((64, 64), seed=2)[0], name="low")
    if kind == "random-bytes":
        path = tmp_path / "x.safetensors"
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    else:
        path = tmp_path / "model.pkl"
        path.write_bytes(pickle.dumps({"generator": np.zeros(3)}))
    widget.set_weights_file(path)

    assert click_and_wait(widget, widget.run_button) == "error"

    assert [lay.name for lay in viewer.layers] == ["low"]
    assert_idle(widget, widget.run_button)
    assert len(errors) == 1 and str(path) in errors[0]
    if kind == "pickle":
        assert "pickle" in errors[0]
    # still usable: the busy state is really gone
    assert widget.layer_combo.isEnabled() and widget.weights_combo.isEnabled()


def test_denoise_missing_default_weights_says_what_to_do(make_napari_viewer, monkeypatch, tmp_path, errors):
    viewer = make_napari_viewer()
    cls = methods.method_class("denoise")
    monkeypatch.setattr(cls, "default_weights", classmethod(lambda c: tmp_path / "absent.safetensors"))
    widget = DenoiseWidget(viewer)
    viewer.add_image(lowlight_pair((64, 64), seed=2)[0], name="low")
    assert "not installed" in widget.weights_combo.itemText(0)
    assert not widget.weights_combo.model().item(1).isEnabled()  # no training run yet
    widget.run_button.click()
    assert not widget.busy and len(errors) == 1
    assert "not installed" in errors[0] and "Train" in errors[0]


# ----- training widget ----------------------------------------------------------------------------
def test_train_widget_trains_on_layers_and_shares_weights(click_and_wait, make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    denoise = DenoiseWidget(viewer)  # docked before training: must learn of the new weights
    widget = TrainWidget(viewer)
    viewer.window.add_dock_widget(widget)
    low, clean = lowlight_pair((128, 128), seed=3)
    viewer.add_image(low, name="low")
    viewer.add_image(clean, name="clean")
    assert widget.method_combo.currentText() == "denoise"
    widget.set_preset("test")
    assert (widget.patch_spin.value(), widget.steps_spin.value()) == (64, 4)
    widget.steps_spin.setValue(3)
    widget.source_a.select_layers(["low"])
    widget.source_b.select_layers(["clean"])
    run_dir = tmp_path / "run"
    widget.set_run_dir(run_dir)
    assert not denoise.weights_combo.model().item(1).isEnabled()

    assert click_and_wait(widget, widget.train_button) == "done"

    assert_idle(widget, widget.train_button)
    assert widget.progress.value() == 3 and widget.progress.maximum() == 3
    steps, values = widget.loss_plot.points["G"]
    assert steps == [1, 2, 3] and all(np.isfinite(values))
    assert len(widget.loss_plot.points["D_A"][0]) == 3 and len(widget.loss_plot.points["D_B"][0]) == 3
    assert widget.loss_plot.draw_count >= 1
    checkpoint = run_dir / "last.safetensors"
    assert checkpoint.is_file()
    method = methods.load("denoise", weights=checkpoint, device="cpu")
    assert method.config.ngf == 8 and method.config.patch_size == 64 and method.config.steps == 3
    weights = widget.last_result.weights
    assert weights.is_file() and weights.parent == run_dir
    methods.load("denoise", weights=weights, device="cpu")

    # shared with the denoise widget of this viewer
    assert state_for(viewer).trained_weights("denoise") == weights
    assert denoise.weights_combo.model().item(1).isEnabled()
    denoise.set_weights_choice("trained")
    assert denoise.weights_path() == weights
    assert DenoiseWidget(viewer).offered_weights()["trained"] == weights


def test_train_cancel_saves_checkpoint_and_train_resumes(click_and_wait, make_napari_viewer, qtbot, tmp_path,
                                                         hold_job):
    from napari_vesselgan.engine.checkpoint import load_checkpoint

    viewer = make_napari_viewer()
    widget = TrainWidget(viewer)
    low, clean = lowlight_pair((96, 96), seed=4)
    viewer.add_image(low, name="low")
    viewer.add_image(clean, name="clean")
    widget.set_preset("test")
    widget.steps_spin.setValue(200)
    widget.source_a.select_layers(["low"])
    widget.source_b.select_layers(["clean"])
    run_dir = tmp_path / "run"
    widget.set_run_dir(run_dir)

    gate = hold_job(widget)
    with qtbot.waitSignal(widget.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(widget.train_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: widget.progress.value() >= 1, timeout=RUN_TIMEOUT)
        qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert blocker.args == ["cancelled"]
    stopped = widget.last_result.step
    assert 1 <= stopped < 200 and widget.last_result.cancelled
    assert load_checkpoint(run_dir / "last.safetensors").step == stopped
    assert widget.run_dir_edit.text() == str(run_dir)  # kept, so Train resumes

    widget.steps_spin.setValue(stopped + 2)
    assert click_and_wait(widget, widget.train_button) == "done"
    assert widget.last_result.start_step == stopped and widget.last_result.step == stopped + 2
    assert widget.loss_plot.points["G"][0] == list(range(1, stopped + 3))  # old history + new steps


def test_train_refuses_existing_checkpoint_without_resume(make_napari_viewer, tmp_path, errors):
    viewer = make_napari_viewer()
    widget = TrainWidget(viewer)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "last.safetensors").write_bytes(b"x")
    widget.set_run_dir(run_dir)
    widget.resume_check.setChecked(False)
    widget.train_button.click()
    assert not widget.busy and len(errors) == 1 and "Resume" in errors[0]
    widget.source_a.set_kind("layers")  # no layers selected: a message, not a crash
    widget.train_button.click()
    assert not widget.busy and len(errors) == 2 and "domain A" in errors[1]


def test_train_request_follows_the_controls_and_the_config_checks_patches(make_napari_viewer, tmp_path, errors):
    from napari_vesselgan.methods.request import DEVICES

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((64, 64), np.uint16), name="clean")
    widget = TrainWidget(viewer)
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("denoise"))
    widget.set_preset("test")
    widget.source_b.select_layers(["clean"])
    widget.set_run_dir(tmp_path / "run")
    widget.device_combo.setCurrentIndex(DEVICES.index("cpu"))
    request = widget.build_request()
    assert (request.method, request.device, request.run_dir, request.resume) == ("denoise", "cpu", tmp_path / "run",
                                                                                True)
    assert request.sources[0] == "synthetic" and len(request.sources[1]) == 1 and request.config.patch_size == 64
    widget.patch_spin.setValue(62)
    widget.train_button.click()
    assert not widget.busy and len(errors) == 1 and "must be a multiple of" in errors[0]


# ----- plugin manifest ----------------------------------------------------------------------------
def test_npe2_manifest_validates_with_imports():
    npe2 = Path(sys.executable).with_name("npe2")
    command = [str(npe2)] if npe2.exists() else [sys.executable, "-m", "npe2"]
    done = subprocess.run([*command, "validate", "napari-vesselgan", "--imports"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_widgets_open_from_the_plugin_menu_and_share_state(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    dock, denoise = viewer.window.add_plugin_dock_widget("napari-vesselgan", "Denoise NIR-II")
    assert isinstance(denoise, DenoiseWidget) and dock is not None
    dock, train = viewer.window.add_plugin_dock_widget("napari-vesselgan", "Train a model")
    assert isinstance(train, TrainWidget) and dock is not None
    # napari gives each plugin widget its own proxy of the viewer: the state must still be one
    assert state_for(denoise.viewer) is state_for(train.viewer) is state_for(viewer)
    state_for(train.viewer).set_trained_weights("denoise", tmp_path / "w.safetensors")
    assert denoise.weights_combo.model().item(1).isEnabled()
    viewer.add_image(np.zeros((8, 8), np.float32), name="via proxy")
    assert denoise.layer_combo.currentText() == "via proxy"
    assert train.source_a.layer_list.count() == 1
