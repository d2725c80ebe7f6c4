"""Processes govcal starts never outlive the one that started them.

On Linux the kernel sends the child SIGTERM when its parent dies, even by `kill -9`: a
Prefect server left behind would hold its port and be taken for `govcal serve`'s, and an
artifact poster left behind would go on posting to an API nobody is waiting for."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable


def _die_with_parent() -> None:
    """Runs in the child before exec: prctl(PR_SET_PDEATHSIG, SIGTERM)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # no prctl: the child is stopped by the normal shutdown only


def dies_with_parent() -> Callable[[], None] | None:
    """The `preexec_fn` for subprocess.Popen that ties the child's life to this process."""
    return _die_with_parent if sys.platform == "linux" else None
