"""Measured evaluation of each method on held-out data, one module per method.

Every ``evaluation.<method>`` module offers the same entry point: ``Options`` (its settings, a
pydantic model built on :class:`~napari_vesselgan.evaluation.common.EvaluationOptions`),
``evaluate(method, options)`` (the whole JSON-able result the model cards quote) and
``summary_lines(result)`` (the table the command line prints). ``common`` holds what they share.
Nothing heavy is imported here: import the module of the method you evaluate.
"""

from __future__ import annotations

#: The methods with an ``evaluation.<name>`` module.
METHODS: tuple[str, ...] = ("denoise", "superres", "mask2nir", "fundus2ffa", "fundus2video")

__all__ = ["METHODS"]
