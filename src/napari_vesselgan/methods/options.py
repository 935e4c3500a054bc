"""What a method declares for the front ends: its own prediction options and its training sources.

The command line and the widgets read these declarations from the method class (the
registry), so neither branches on a method's name: ``vesselgan predict superres --help``
lists the fields of superres's options model, and the training dock shows one picker per
training source.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

#: What a front end offers for an input or a training source.
LayerKind = Literal["grey", "rgb", "labels", "video"]


class PredictOptions(BaseModel):
    """A method's own prediction options: one typed field each, with a default and a description.

    Fields named in ``FILE_OPTIONS`` only shape how results are written to files (frames per
    second of a video, how many pairs per mask of a folder); the others go to ``predict``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    FILE_OPTIONS: ClassVar[frozenset[str]] = frozenset()

    def predict_kwargs(self) -> dict[str, Any]:
        """The options ``Method.predict`` takes as keyword arguments."""
        return self.model_dump(exclude=set(self.FILE_OPTIONS))

    def unused(self, *, folder: bool, target: Path) -> dict[str, str]:
        """The options given explicitly (``model_fields_set``) that would change nothing when
        predicting a folder (``folder``) or a file into ``target``, each with what it applies to:
        the command line refuses them rather than ignore them. None by default."""
        return {}


class NoOptions(PredictOptions):
    """A method without options of its own."""


@dataclass(frozen=True)
class TrainingSource:
    """One source of training data: its command-line flag, its label in the dock, what it takes."""

    #: The command line's flag without dashes (``domain_a`` -> ``--domain-a``).
    key: str
    #: The title of its picker in the training dock.
    label: str
    #: The command line's help.
    help: str
    #: Layer kinds the dock offers for it.
    layer_kinds: tuple[LayerKind, ...] = ("grey",)
