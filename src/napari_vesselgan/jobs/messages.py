"""Typed progress messages from a job to whoever runs it (a dock in napari, the command line).

A job calls ``report(message)`` with one of these; the receiver dispatches on the type. A
widget's report raises ``Cancelled`` once its user pressed Cancel, so every report is also a
point where a prediction stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Phase:
    """The job moved on to a new stage ("Loading weights...")."""

    text: str


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` units (tiles, frames, masks) are finished."""

    done: int
    total: int


@dataclass(frozen=True)
class TrainingStarted:
    """Training (re)starts at ``step`` of ``total``; ``history`` holds the losses of a resumed run."""

    step: int
    total: int
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TrainingStep:
    """Step ``step`` of ``total`` ended with these losses."""

    step: int
    total: int
    losses: dict[str, float]


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint was written at ``step``."""

    step: int
    path: Path


Message = Phase | Progress | TrainingStarted | TrainingStep | CheckpointSaved
Report = Callable[[Message], None]


def ignore(message: Message) -> None:
    """A report that drops every message."""


def counting(report: Report) -> Callable[[int, int], None]:
    """The library's ``progress(done, total)`` callbacks as ``Progress`` messages to ``report``."""
    return lambda done, total: report(Progress(done, total))
