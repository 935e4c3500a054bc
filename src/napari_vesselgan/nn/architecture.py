"""Generators remember the arguments they were built with, so a saved model can name them.

A BioImage.io package describes a PyTorch network as a callable and its keyword arguments
(``import_from``, ``callable``, ``kwargs``); :func:`keeps_arguments` records them on the
instance as ``architecture_kwargs`` (the outermost class's, when a subclass calls its base).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


def keeps_arguments(init: Callable[..., None]) -> Callable[..., None]:
    """Decorate an ``nn.Module.__init__`` so the instance keeps its keyword arguments (defaults filled in)."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        if "architecture_kwargs" not in self.__dict__:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(list(bound.arguments.items())[1:])
            object.__setattr__(self, "architecture_kwargs", arguments)  # before Module.__init__ runs
        init(self, *args, **kwargs)

    return wrapper


def architecture_of(net: Any) -> tuple[str, str, dict[str, Any]]:
    """``(module, class name, kwargs)`` that rebuild ``net`` (a generator decorated with :func:`keeps_arguments`)."""
    kwargs = net.__dict__.get("architecture_kwargs")
    if kwargs is None:
        raise TypeError(f"{type(net).__name__} does not record its arguments (decorate __init__ with keeps_arguments)")
    return type(net).__module__, type(net).__qualname__, dict(kwargs)
