"""govcal's one error base, at the bottom layer so that every layer raises it.

A GovcalError is something a person can act on: its message is one line (or `lines`)
naming the file, line, record or setting and what to do. Each edge catches the base once
and shows it its own way: the command line as `Error: ...` and an exit code
(govcal/cli/common.py), a Prefect form as its run's state message (flows/jobs.py), the
web app as a page (govcal/web/app.py). Anything else is a bug, and shows as one.
"""

from __future__ import annotations


class GovcalError(Exception):
    """A problem a person can fix; `nothing_changed` says that nothing was kept."""

    nothing_changed = False


class Refused(GovcalError, ValueError):
    """Input that cannot be used (a typed value, a file, a form): refused before any
    change, so nothing was changed."""

    nothing_changed = True


class Missing(GovcalError, LookupError):
    """What was named does not exist (an occurrence id, a link); nothing was changed."""

    nothing_changed = True


class Unavailable(GovcalError, RuntimeError):
    """Something govcal needs cannot be reached now (the database, the mailbox, the
    Prefect API); trying again later may work."""
