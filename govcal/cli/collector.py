"""Python's cyclic garbage collector, paused while a command starts.

Starting a command builds a few hundred thousand objects that live until it ends
(SQLAlchemy, SQLModel's tables, pydantic, typer, Prefect). The collector would scan them
again and again while they are made, and once more at exit: about a third of what
`govcal status` took. So `main` pauses it; when the command's own function starts, what
exists is frozen (never scanned again: it lives as long as the process) and collection
resumes as usual, so a long `govcal run` or `govcal serve` collects its garbage as ever.
A command that imports more on its way (`plan` on a database, `run`'s flows) does so
inside `loading()`, paused again.

Only a process started by `main` is managed: code that calls the typer app itself (the
tests) keeps its collector untouched.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_managed = False


def pause() -> None:
    """Stop collecting until `resume` (called once, by `main`, before anything loads)."""
    global _managed
    if gc.isenabled():
        gc.disable()
        _managed = True


def resume() -> None:
    """Freeze what has been built so far and collect again."""
    if _managed and not gc.isenabled():
        gc.freeze()
        gc.enable()


@contextmanager
def loading() -> Iterator[None]:
    """Imports made by a running command, with the collector paused meanwhile."""
    if not (_managed and gc.isenabled()):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        resume()
