"""The cockpit's artifacts: what each partnership's board becomes, and how it is posted.

Each artifact is one call to Prefect's API server, about 9 ms of the server's CPU
whatever its size, and the API has no bulk endpoint: at 160 partnerships the 640 of them
were about 6 s of the server's time, the largest part of what the daily flow cost over
the same steps as plain functions. So:

- a returns table is posted only when it changed (its rows carry dates, not "N days
  late"): on most days only the summary and the open-items table of each partnership
  are new;
- the posting runs in a process of its own (flows/post_artifacts.py): the daily flow
  builds every board first, then writes the feeds while the poster posts (in the flow's
  own process the client's work fought the feeds for the interpreter lock).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from typing import TYPE_CHECKING, Any

from prefect.artifacts import Artifact, MarkdownArtifact, TableArtifact
from prefect.utilities.context import get_task_and_flow_run_ids

from govcal.flows.children import dies_with_parent
from govcal.flows.post_artifacts import deadline_for, each, post_all, without_urls
from govcal.rules.errors import Unavailable
from govcal.rules.text import markdown_text as md

if TYPE_CHECKING:
    from govcal.flows.dashboard import Dashboard

GRACE_S = 15.0  # past the poster's own deadline, it is stopped
_DONE = None


class PublishError(Unavailable):
    """Some artifacts were not posted; the message gives the server's first answers."""


def board_artifacts(board: Dashboard, as_of: date, sent: dict[str, int] | None) -> list[Artifact]:
    """One partnership's artifacts, under keys that stay the same from day to day (the UI
    shows the latest): the summary, the open items, one table per audit rule's cycle.
    The returns tables carry no "as of": posted only when they change, the UI's own date
    on them says since when they stand."""
    pid, stamp = board.partnership, f"as of {as_of:%d %b %Y}"
    return [
        MarkdownArtifact(
            markdown=board.markdown(sent),
            key=f"compliance-summary-{pid}",
            description=f"{md(board.name)}: what needs attention, {stamp}",
        ),
        TableArtifact(
            table=board.table(),
            key=f"compliance-{pid}",
            description=f"{md(board.name)}: open items, most urgent first, {stamp}",
        ),
    ] + [
        TableArtifact(
            table=cycle.rows, key=returns_key(pid, cycle.rule_id), description=cycle.describe()
        )
        for cycle in board.cycles
    ]


RETURNS = "returns-"  # the key's prefix of a returns table, posted only when it changed


def returns_key(partnership: str, rule: str) -> str:
    return f"{RETURNS}{partnership}-{rule}"


def as_posted(artifacts: list[Artifact]) -> list[dict[str, Any]]:
    """Each artifact as the poster takes it (plain data, so one task can hand it to the
    next): its data in the form Prefect stores, and whether it is posted only if changed."""
    return [
        {
            "key": a.key,
            "type": a.type,
            "description": a.description,
            "data": _stored(a),
            "task_run_id": _text(a.task_run_id),
            "flow_run_id": _text(a.flow_run_id),
            "only_if_changed": bool(a.key and a.key.startswith(RETURNS)),
        }
        for a in artifacts
    ]


def _stored(artifact: Artifact) -> str:
    """An artifact's data as Prefect's API stores it: the markdown as written, a table as
    JSON (the cockpit posts only these two kinds)."""
    if isinstance(artifact, MarkdownArtifact):
        return artifact.markdown
    if isinstance(artifact, TableArtifact):
        return json.dumps(artifact.table, allow_nan=False)
    raise TypeError(f"the cockpit posts markdown and tables, not {type(artifact).__name__}")


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class Publisher:
    """`with Publisher() as post: post(as_posted([...]))`: every artifact is posted (or
    found unchanged) by the time the block ends; a failure is raised there as PublishError.

    The artifacts go, one JSON line each, to a poster process (flows/post_artifacts.py)
    that talks to the same Prefect API as this process; a writer thread feeds its pipe,
    so building the next board never waits on it. `in_process=True` posts them in this
    thread when the block ends instead: for a handful of artifacts (a form's one
    partnership, the sample) starting a process costs more than it saves."""

    def __init__(
        self, *, in_process: bool = False, count: int | None = None, deadline: float | None = None
    ) -> None:
        self._in_process = in_process
        self._deadline = deadline or deadline_for(count)  # posting never waits longer
        self._kept: list[dict[str, Any]] = []
        self._task_run_id, self._flow_run_id = get_task_and_flow_run_ids()
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._files = contextlib.ExitStack()  # the poster's stdout and stderr
        self._process: subprocess.Popen[bytes] | None = None
        self._writer: threading.Thread | None = None
        self.report: dict[str, Any] = {}

    def __enter__(self) -> Publisher:
        if self._in_process:
            return self
        with self._files.pop_all() as opened:  # closed again if the poster cannot start
            self._out = opened.enter_context(tempfile.TemporaryFile())
            self._err = opened.enter_context(tempfile.TemporaryFile())
            self._process = subprocess.Popen(
                [sys.executable, "-m", "govcal.flows.post_artifacts", str(self._deadline)],
                stdin=subprocess.PIPE,
                stdout=self._out,
                stderr=self._err,
                env=_poster_environment(),
                preexec_fn=dies_with_parent(),
            )
            self._files = opened.pop_all()
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._writer.start()
        return self

    def __call__(self, batch: list[dict[str, Any]]) -> None:
        """Post these artifacts (as_posted), under this task or flow run unless they name
        their own."""
        for fields in batch:
            owned = {
                **fields,
                "task_run_id": fields.get("task_run_id") or _text(self._task_run_id),
                "flow_run_id": fields.get("flow_run_id") or _text(self._flow_run_id),
            }
            if self._in_process:
                self._kept.append(owned)
            else:
                self._lines.put(json.dumps(owned) + "\n")

    def _write(self) -> None:
        assert self._process is not None and self._process.stdin is not None
        stdin = self._process.stdin
        try:
            while (line := self._lines.get()) is not _DONE:
                stdin.write(line.encode())
        except BrokenPipeError:
            pass  # the poster died: its exit status and stderr tell why
        finally:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

    def __exit__(self, *exc: Any) -> None:
        if self._in_process:
            if exc[0] is None:
                self._post_here()
            return
        with self._files:
            self._finish(exc[0] is not None)

    def _post_here(self) -> None:
        from prefect.utilities.asyncutils import run_coro_as_sync

        posting = post_all(each(self._kept), time.perf_counter(), self._deadline)
        self.report = run_coro_as_sync(posting) or {}
        if self.report.get("errors"):
            raise PublishError(_failure(self.report, None, 1))

    def _finish(self, failing: bool) -> None:
        assert self._process is not None and self._writer is not None
        if failing:  # the block raised (Ctrl-C too): the poster stops now
            self._process.kill()
        self._lines.put(_DONE)
        self._writer.join()
        try:
            status = self._process.wait(timeout=self._deadline + GRACE_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            if not failing:
                raise PublishError(
                    f"Prefect's API did not take the cockpit's artifacts within "
                    f"{self._deadline:.0f} s; check that its server is up"
                ) from None
            return
        self.report = _report(self._out)
        if not failing and (status != 0 or not self.report):
            raise PublishError(_failure(self.report, self._err, status))

    @property
    def posted(self) -> int:
        return int(self.report.get("posted", 0))

    @property
    def unchanged(self) -> int:
        return int(self.report.get("unchanged", 0))


def _poster_environment() -> dict[str, str]:
    """This process's Prefect API, as the poster must reach it: the settings in force here
    may come from a profile or a settings context the child would not see."""
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    # the configured API, else the ephemeral server this process runs (found, not called:
    # a hung API must not hang the start)
    url = str(settings.api.url or get_client(sync_client=True).api_url).rstrip("/")
    env = {**os.environ, "PREFECT_API_URL": url, "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "false"}
    for name, secret in (
        ("PREFECT_API_KEY", settings.api.key),
        ("PREFECT_API_AUTH_STRING", settings.api.auth_string),
    ):
        if secret is not None:
            env[name] = secret.get_secret_value()
    return env


def _report(out: Any) -> dict[str, Any]:
    out.seek(0)
    lines = [line for line in out.read().decode(errors="replace").splitlines() if line.strip()]
    try:
        found = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _failure(report: dict[str, Any], err: Any, status: int) -> str:
    """One line: how many were not taken, the first reason and where."""
    if report.get("errors"):
        failed, posted = report.get("failed", 0), report.get("posted", 0)
        return (
            f"Prefect's API did not take {failed} of the cockpit's artifacts ({posted} "
            f"posted): {report['errors'][0]}"
        )
    if err is None:
        return "The cockpit's artifacts were not posted"
    err.seek(0)
    last = [line for line in err.read().decode(errors="replace").splitlines() if line.strip()]
    why = without_urls(last[-1])[:300] if last else f"exit status {status}"
    return f"The cockpit's artifact poster stopped before it was done: {why}"
