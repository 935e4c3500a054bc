"""What both dock widgets share: the life of one job (start, busy state, cancel, errors, finish).

:class:`JobWidget` holds the viewer, its shared state and the running worker, and runs the
cycle around :func:`._workers.run_with_progress` and :func:`._workers.start_job`:

* :meth:`JobWidget._start_job` makes the cancel event, sets the busy state and starts the
  worker with the widget's ``_on_yield`` and ``_on_return`` (each widget's own) and the shared
  ``_on_error`` and ``_on_finished``; the run's ``context`` (what the result handler needs
  from the time the run started: the source layer's name and placement, the start time) goes
  with the job and comes back as ``_on_return(result, context)``, never kept on the widget;
* ``_on_yield`` dispatches on the typed messages of ``jobs.messages`` (``Phase``,
  ``Progress``; the training dock adds its own);
* :meth:`JobWidget.cancel` sets the event (the job stops at its next progress report or step);
* ``_on_error`` records "cancelled" or "error" and tells the user (a user's error, such as
  ``InvalidInput``, as a notification only; any other error also logs its traceback);
  ``_on_finished`` clears the busy state (a finished run reads 100 %) and emits
  :attr:`JobWidget.run_finished` with the outcome;
* :meth:`JobWidget.shutdown` (also on close) cancels a running job and drops the viewer's
  connections.

A subclass names its controls (:meth:`JobWidget._job_controls`), sets the texts below, builds
``cancel_button``, ``progress`` and ``status_label`` (with :meth:`JobWidget._build_job_row`)
and the layer watcher ``_watcher``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import napari.utils.notifications as notifications
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from napari_vesselgan.jobs.messages import Message, Phase, Progress, Report
from napari_vesselgan.widgets._state import LayerWatcher, state_for
from napari_vesselgan.widgets._workers import Cancelled, describe_error, is_user_error, run_with_progress, start_job

if TYPE_CHECKING:
    import napari


class JobWidget(QWidget):
    """A dock widget that runs one job at a time in a worker, with cancel and a busy state."""

    #: Emitted when a run ends, with "done", "cancelled" or "error".
    run_finished = Signal(str)

    #: The job in messages: "<job_name> failed: ..." (and "<job_name, lower case> failed" in the log).
    job_name = "The job"
    #: The cancel button's text and the status once Cancel was pressed.
    cancelling_button_text = "Cancelling..."
    cancelling_status = "Cancelling..."
    #: The status after a cancel that raised ``Cancelled`` (a job run with ``raise_on_cancel``).
    cancelled_status = "Cancelled."
    #: The status after an error (the notification says what went wrong).
    failed_status = "Failed: see the notification."

    cancel_button: QPushButton
    progress: QProgressBar
    status_label: QLabel

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.state = state_for(napari_viewer)
        self.worker = None
        self.last_outcome: str | None = None
        self.last_result: Any = None
        self._cancel: threading.Event | None = None
        self._closed = False
        self._watcher: LayerWatcher | None = None

    # ----- layout -----------------------------------------------------------------------------
    def _build_job_row(self, start_button: QPushButton) -> QHBoxLayout:
        """Make ``cancel_button``, ``progress`` and ``status_label``; return a row of start and cancel."""
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(start_button)
        row.addWidget(self.cancel_button)
        return row

    def _lay_out(self, form: QFormLayout, run_text: str, run: Callable[[], None], *extra: QWidget) -> QVBoxLayout:
        """The usual dock, top to bottom: ``form``, a ``run_button`` (``run_text``, calling ``run``)
        beside Cancel, the progress bar, the status line, then ``extra`` widgets."""
        self.run_button = QPushButton(run_text)
        self.run_button.clicked.connect(run)
        buttons = self._build_job_row(self.run_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        for widget in extra:
            layout.addWidget(widget)
        layout.addStretch(1)
        return layout

    def _job_controls(self) -> Sequence[QWidget]:
        """The controls (the start button among them) that are disabled while a job runs."""
        return ()

    # ----- running ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    @property
    def cancel_requested(self) -> bool:
        """Whether Cancel was pressed during the running job."""
        return self._cancel is not None and self._cancel.is_set()

    def _set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.cancel_button.setText("Cancel")
        for control in self._job_controls():
            control.setEnabled(not busy)

    def report_error(self, message: str) -> None:
        """Tell the user (a napari notification); tests may replace this."""
        notifications.show_error(message)

    def _start_job(self, job: Callable[[Report, threading.Event], Any], status: str, *, context: Any = None,
                   raise_on_cancel: bool = True, on_return: Callable[[Any], None] | None = None) -> None:
        """Run ``job(report, cancel)`` in a worker (see ``run_with_progress``) and show ``status``;
        its result comes back as ``_on_return(result, context)`` (or ``on_return(result)``: a side job
        such as an export, whose result is not the dock's own).

        Everything the job needs must have been read already, in the GUI thread: the job runs
        in a helper thread and touches no widget or layer.
        """
        cancel = self._cancel = threading.Event()
        generator = run_with_progress(lambda report: job(report, cancel), cancel, raise_on_cancel=raise_on_cancel)
        self._set_busy(True)
        self.status_label.setText(status)
        self.worker = start_job(generator, on_yield=self._on_yield,
                                on_return=on_return or (lambda result: self._on_return(result, context)),
                                on_error=self._on_error, on_finished=self._on_finished)

    def cancel(self) -> None:
        """Ask the running job to stop (what that means: the widget's ``cancelling_status``)."""
        if self._cancel is not None and self.busy:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.cancel_button.setText(self.cancelling_button_text)
            self.status_label.setText(self.cancelling_status)

    def _on_yield(self, messages: list[Message]) -> None:
        """What the job reported (a batch of messages), one at a time through ``_on_message``."""
        for message in messages:
            self._on_message(message)

    def _on_message(self, message: Message) -> None:
        """``Progress`` moves the bar, ``Phase`` sets the status (unless a cancel is under way)."""
        if isinstance(message, Progress):
            self.progress.setRange(0, message.total)
            self.progress.setValue(message.done)
        elif isinstance(message, Phase) and not self.cancel_requested:
            self.status_label.setText(message.text)

    def _on_return(self, result: Any, context: Any) -> None:
        """The job's result with the run's context (``_start_job``'s); a widget sets
        ``last_outcome`` to "done" or "cancelled" here."""

    def _on_error(self, error: BaseException) -> None:
        if isinstance(error, Cancelled):
            self.last_outcome = "cancelled"
            self.status_label.setText(self.cancelled_status)
            return
        self.last_outcome = "error"
        log = logging.getLogger(type(self).__module__)
        if is_user_error(error):  # the notification says it all: no traceback on stderr
            log.info("%s failed: %s", self.job_name.lower(), describe_error(error))
        else:  # a bug: keep its traceback
            log.error("%s failed", self.job_name.lower(), exc_info=getattr(error, "error", error))
        self.status_label.setText(self.failed_status)
        self.report_error(f"{self.job_name} failed: {describe_error(error)}")

    def _on_finished(self) -> None:
        """After success, cancel and error alike: clear the busy state, say how the run ended."""
        self.worker = None
        self._cancel = None
        self._set_busy(False)
        self._after_job()
        if self.last_outcome == "done":  # a finished run reads 100 %, in every dock
            if self.progress.maximum() <= 0:
                self.progress.setRange(0, 1)
            self.progress.setValue(self.progress.maximum())
        self.run_finished.emit(self.last_outcome or "error")

    def _after_job(self) -> None:
        """A widget's last touches once the busy state is cleared (before ``run_finished``)."""

    # ----- clean-up ---------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop a running job (see ``cancel``) and drop the connections to the viewer."""
        if self._closed:
            return
        self._closed = True
        if self._cancel is not None:
            self._cancel.set()
        if self._watcher is not None:
            self._watcher.close()
        self._disconnect()

    def _disconnect(self) -> None:
        """Drop a widget's own connections (beyond the layer watcher); called once, by ``shutdown``."""
