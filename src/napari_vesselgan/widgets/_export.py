""""Export to BioImage.io...": a dock's button that writes its weights as a BioImage.io model package.

The export runs as the dock's job (``JobWidget._start_job``: worker thread, busy state, progress
bar, Cancel between steps); its phases are bioimageio's own (writing, describing, packaging,
testing with bioimageio.core), and the end says which file was written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import napari.utils.notifications as notifications
from qtpy.QtWidgets import QFileDialog, QPushButton

from napari_vesselgan import methods
from napari_vesselgan.export.bioimageio import export_model, exportable
from napari_vesselgan.jobs.messages import Phase, Progress, Report
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._workers import describe_error

#: What the button exports: (method name, weights file; None: the bundled default). Raises
#: ValueError (with a message for the user) when there is nothing to export yet.
ExportSource = Callable[[], tuple[str, Path | None]]


def export_job(method_name: str, weights: Path | None, target: Path) -> Callable[[Report, threading.Event], Path]:
    """The worker's job: load the weights, write and test the package; reports phases and progress."""

    def job(report: Report, cancel: threading.Event) -> Path:
        report(Phase(f"Loading the {method_name} weights..."))
        method = methods.load(method_name, weights=weights, device="cpu")

        def progress(text: str, done: int, total: int) -> None:
            report(Phase(f"Export to {target.name}: {text}..."))
            report(Progress(done, total))

        return export_model(method, target, progress=progress)

    return job


class ExportButton(QPushButton):
    """"Export to BioImage.io..." for ``dock``: asks for a .zip, exports what ``source`` names."""

    def __init__(self, dock: JobWidget, source: ExportSource, text: str = "Export to BioImage.io..."):
        super().__init__(text)
        self.dock, self.source = dock, source
        self.last_export: Path | None = None
        self.setToolTip("Write these weights as a BioImage.io model package (.zip), tested with bioimageio.core, "
                        "for other tools (ilastik, deepImageJ, bioimageio.core) and for sharing")
        self.clicked.connect(self._on_clicked)
        dock.run_finished.connect(self._on_dock_finished)

    def _on_clicked(self) -> None:
        self.export()

    def _on_dock_finished(self, _outcome: str) -> None:
        self.setEnabled(self.available())

    def available(self) -> bool:
        """Whether there is something to export now (the dock's method exports and has weights)."""
        try:
            method_name, _ = self.source()
        except ValueError:
            return False
        return exportable(method_name)

    def export(self, target: str | Path | None = None) -> None:
        """Start the export (asks for the file when ``target`` is None); returns at once."""
        if self.dock.busy:
            self.dock.report_error("Wait for the running job to finish (or cancel it) before exporting.")
            return
        try:
            method_name, weights = self.source()
        except ValueError as error:
            self.dock.report_error(describe_error(error))
            return
        if not exportable(method_name):
            from napari_vesselgan.export.bioimageio import NOT_EXPORTED

            self.dock.report_error(NOT_EXPORTED.get(method_name, f"{method_name} has no BioImage.io export"))
            return
        if target is None:
            start = (weights.parent if weights else Path.home()) / f"{method_name}-bioimageio.zip"
            chosen, _ = QFileDialog.getSaveFileName(self.dock, "Export to BioImage.io", str(start),
                                                    "BioImage.io model package (*.zip)")
            if not chosen:
                return
            target = chosen
        target = Path(target)
        if target.suffix.lower() != ".zip":
            target = target.with_name(target.name + ".zip")
        self.dock.last_outcome = None
        self.setEnabled(False)
        self.dock.progress.setRange(0, 0)
        self.dock._start_job(export_job(method_name, weights, target), f"Exporting {method_name} to {target.name}...",
                             on_return=self._on_exported)

    def _on_exported(self, path: Path) -> None:
        self.last_export = path
        self.dock.last_outcome = "done"
        message = f"Exported to BioImage.io: {path} (passed bioimageio.core's test)"
        self.dock.status_label.setText(message)
        notifications.show_info(message)
