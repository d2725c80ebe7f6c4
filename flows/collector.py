"""The cyclic garbage collector paused while the national sweep builds what it returns.

Every partnership's board and the plan of the day's messages are tens of thousands of
rows, items and messages that live until the step ends. Made with the collector on, it
scans them again and again as they are made: a third of the boards' and the plan's time
at 160 partnerships. Reference counting still frees whatever is dropped meanwhile (none
of it is cyclic), and the collector resumes after, so a long-running worker collects its
garbage as ever.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside; as before after (left alone if already paused)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
