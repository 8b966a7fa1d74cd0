"""Progress as jobs see it: a factory of ``advance(n)`` callbacks.

Jobs take a :data:`ProgressFactory` and never import rich; the CLI passes
:func:`winnow.cli.console.progress_bar`, tests and library callers get :func:`no_progress`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

Advance = Callable[[int], None]
ProgressFactory = Callable[[str, int | None], AbstractContextManager[Advance]]


@contextmanager
def no_progress(description: str, total: int | None = None) -> Iterator[Advance]:
    """A factory that draws nothing."""
    yield lambda n=1: None
