"""Shared fixtures: real images when the shared folder is there, and tiny trained weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "real"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """``../shared/real`` beside the checkout; tests that need it skip where it is absent."""
    if not REAL_DIR.is_dir():
        pytest.skip("real images (../shared/real) are not available here")
    return REAL_DIR


@pytest.fixture
def errors(monkeypatch) -> list[str]:
    """Messages given to napari's show_error (the widgets' way of reporting failures)."""
    import napari.utils.notifications

    seen: list[str] = []
    monkeypatch.setattr(napari.utils.notifications, "show_error", lambda message, *a, **k: seen.append(str(message)))
    return seen


@pytest.fixture
def single_torch_thread():
    """One intra-op torch thread for a test: these check behaviour, not speed, and on a 2-core
    machine shared with other work torch's two OpenMP threads wait on each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


#: How long a widget test waits for a run to end (ms).
RUN_TIMEOUT = 60_000


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Callable[[str], Path]:
    """``tiny_weights(name)``: a checkpoint of method ``name`` trained for a few steps with its
    'test' preset (on synthetic data, on the CPU, with one torch thread), trained once per
    session and kept by name."""
    import torch

    from napari_vesselgan import methods

    trained: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in trained:
            cls = methods.method_class(name)
            config = cls.config_class.preset("test")
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                trained[name] = cls.untrained(config, device="cpu").train(
                    "synthetic", config, run_dir=tmp_path_factory.mktemp(f"tiny-{name}"))
            finally:
                torch.set_num_threads(before)
        return trained[name]

    return get


@pytest.fixture
def click_and_wait(qtbot) -> Callable[..., str]:
    """``click_and_wait(widget, start)``: click the button ``start`` (or call it), wait for the
    widget's ``run_finished`` and return how the run ended ("done", "cancelled", "error")."""
    from qtpy.QtCore import Qt

    def click(widget: Any, start: Any, timeout: int = RUN_TIMEOUT) -> str:
        with qtbot.waitSignal(widget.run_finished, timeout=timeout) as blocker:
            if hasattr(start, "click"):
                qtbot.mouseClick(start, Qt.MouseButton.LeftButton)
            else:
                start()
        return blocker.args[0]

    return click


@pytest.fixture
def hold_job(monkeypatch) -> Callable[[Any], Any]:
    """``gate = hold_job(widget)``: the widget's jobs stop after their first progress report (a
    ``Progress`` or a ``TrainingStep``) until the test sets ``gate``. A test that cancels a run then
    knows the run is still going when it clicks Cancel: no race between the job and the GUI."""
    import threading

    from napari_vesselgan.jobs.messages import Progress, TrainingStep

    def hold(widget: Any) -> threading.Event:
        gate = threading.Event()
        start = widget._start_job

        def start_held(job: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            def held(report: Callable[[Any], None], cancel: Any) -> Any:
                def report_then_wait(message: Any) -> None:
                    report(message)
                    if isinstance(message, (Progress, TrainingStep)) and not gate.is_set():
                        gate.wait(RUN_TIMEOUT / 1000)

                return job(report_then_wait, cancel)

            return start(held, *args, **kwargs)

        monkeypatch.setattr(widget, "_start_job", start_held)
        return gate

    return hold
