"""The work the front ends run, as plain library functions: one request in, typed progress
messages out through a callback, one typed result back.

* :mod:`.messages` — the progress messages (a phase, a count, training steps, checkpoints).
* :mod:`.predict` — ``run_prediction``: load a method, predict, saliency, explainable metrics.
* :mod:`.train` — ``run_training``: train a method on its sources, reporting every step.

The widgets run these in a napari worker and place the result; the command line runs them
directly and prints.
"""
