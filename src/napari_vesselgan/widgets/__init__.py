"""napari dock widgets: the only part of the package that imports napari or Qt (through qtpy).

* :mod:`.denoise_widget` — ``DenoiseWidget``: denoise a layer, saliency overlay, metrics table, report.
* :mod:`.train_widget` — ``TrainWidget``: train a method on layers, folders or synthetic data,
  with live loss curves (:mod:`.loss_plot`), cancel and resume.
* :mod:`.compare_widget` — ``CompareWidget``: test layers against a reference (PSNR / SSIM / RMSE
  / LPIPS per frame, maps, histograms, HTML report, FID / KID).
* :mod:`.profile_widget` — ``LineProfileWidget``: intensity along a shapes-layer line.
* :mod:`._plot` — the docked matplotlib canvas both use.
* :mod:`._job_widget` — ``JobWidget``, their common base: one job at a time, busy state,
  cancel, errors, ``run_finished``, shutdown.
* :mod:`._workers` — the worker pattern both use (blocking library call in a helper thread,
  progress through a generator worker's yields, cancel through an event).
* :mod:`._state` — what the widgets of one viewer share (the last trained weights per method).

Nothing is imported here, so that ``import napari_vesselgan.widgets`` stays cheap.
"""
