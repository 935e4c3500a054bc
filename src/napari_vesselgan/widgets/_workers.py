"""The worker pattern both widgets use: blocking library calls, progress through yields, cancel.

The library's long calls (``jobs.predict.run_prediction``, ``jobs.train.run_training``) block
and report progress as typed messages (``jobs.messages``) to a callback. napari's generator
workers report progress through ``yield``. The bridge:

* :func:`run_with_progress` runs ``job(report)`` in a helper thread. ``report(message)`` puts
  the message into a queue; the generator drains the queue and yields them in batches, at
  most about five times a second, so the GUI thread is never flooded (one batch may hold
  many training steps: the loss plot gets every point, the progress bar the last one).
* Cancel is a :class:`threading.Event`. With ``raise_on_cancel`` (prediction), ``report``
  raises :class:`Cancelled` once it is set, so the job stops at its next progress call; a
  training job instead reads the event in its callback and asks the trainer to stop after the
  current step, with a checkpoint. The generator waits for the helper thread to end before it
  returns, so a finished worker means the computation really has stopped.
* Errors in the job are re-raised from the generator wrapped in :class:`JobError`:
  superqt's ``GeneratorWorker`` takes a ``RuntimeError`` escaping a generator for "the
  worker was deleted" and only warns, and torch raises ``RuntimeError`` for most failures.

:func:`start_job` wires such a generator into a ``napari.qt.threading`` worker with the
widget's handlers; the widgets clear their busy state in ``on_finished``, which runs after
success, cancel and error alike.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from napari.qt.threading import create_worker
from pydantic import ValidationError

from napari_vesselgan import InvalidInput
from napari_vesselgan.jobs.messages import Message, Report
from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing

#: Seconds between yields while a job runs (about 5 Hz).
YIELD_INTERVAL = 0.2


class Cancelled(Exception):
    """The user cancelled the job."""


class JobError(Exception):
    """An error raised inside a job; ``error`` is the original exception."""

    def __init__(self, error: BaseException):
        super().__init__(str(error) or type(error).__name__)
        self.error = error


_DONE = object()


def run_with_progress(
    job: Callable[[Report], Any],
    cancel: threading.Event,
    *,
    raise_on_cancel: bool = True,
    interval: float = YIELD_INTERVAL,
) -> Generator[list[Message], None, Any]:
    """Run ``job(report)`` in a helper thread; yield lists of the messages it reported; return its result.

    Raises :class:`Cancelled` if ``raise_on_cancel`` and ``cancel`` was set (even when the job
    got to its end first: the user asked for no result), :class:`JobError` for errors.
    """
    items: queue.Queue[Any] = queue.Queue()
    outcome: dict[str, Any] = {}

    def report(message: Message) -> None:
        if raise_on_cancel and cancel.is_set():
            raise Cancelled
        items.put(message)

    def target() -> None:
        try:
            outcome["result"] = job(report)
        except BaseException as error:  # noqa: BLE001 - handed to the GUI thread below
            outcome["error"] = error
        finally:
            items.put(_DONE)

    thread = threading.Thread(target=target, name="vesselgan-job", daemon=True)
    thread.start()
    pending: list[Any] = []
    last = time.monotonic()
    try:
        while True:
            try:
                item = items.get(timeout=max(0.0, last + interval - time.monotonic()))
            except queue.Empty:
                item = None
            else:
                if item is _DONE:
                    break
                pending.append(item)
                if time.monotonic() < last + interval:
                    continue
            if pending:
                yield pending
                pending = []
            last = time.monotonic()
        if pending:
            yield pending
    finally:
        if thread.is_alive():  # the generator was closed early: stop the job too
            cancel.set()
        thread.join()
    error = outcome.get("error")
    if isinstance(error, Cancelled) or (raise_on_cancel and cancel.is_set()):
        raise Cancelled
    if error is not None:
        raise JobError(error) from error
    return outcome.get("result")


def start_job(
    generator: Generator[list[Any], None, Any],
    *,
    on_yield: Callable[[list[Any]], None],
    on_return: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
    on_finished: Callable[[], None],
):
    """Run ``generator`` in a napari generator worker with these handlers; return the worker.

    napari's own error notification is switched off (``_ignore_errors``): ``on_error`` gets
    :class:`Cancelled` or :class:`JobError` and says what went wrong in words.
    """
    worker = create_worker(lambda: (yield from generator), _ignore_errors=True)
    worker.yielded.connect(on_yield)
    worker.returned.connect(on_return)
    worker.errored.connect(on_error)
    worker.finished.connect(on_finished)
    worker.start()
    return worker


#: Errors that are a user's to fix (bad input, a missing file or weights): a notification says
#: it all, no traceback. Everything else is a bug and keeps its traceback in the log.
USER_ERRORS: tuple[type[BaseException], ...] = (InvalidInput, ValidationError, FileNotFoundError, PermissionError,
                                                IsADirectoryError, NotADirectoryError, PretrainedWeightsMissing)


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` (or the error a :class:`JobError` wraps) is one of :data:`USER_ERRORS`."""
    original = error.error if isinstance(error, JobError) else error
    return isinstance(original, USER_ERRORS)


def describe_error(error: BaseException) -> str:
    """A one-line message for a user: the original error's type only where it adds something."""
    original = error.error if isinstance(error, JobError) else error
    if isinstance(original, ValidationError):  # one line per problem, without pydantic's links
        return "; ".join(f"{'.'.join(map(str, problem['loc']))}: " * bool(problem["loc"])
                         + str(problem["msg"]).removeprefix("Value error, ") for problem in original.errors())
    text = str(original).strip() or type(original).__name__
    if isinstance(original, (ValueError, FileNotFoundError)) or type(original).__name__ == "CheckpointError":
        return text
    return f"{type(original).__name__}: {text}"
