"""`govcal run` handed to a running `govcal serve`, so "run it now" takes seconds.

A `govcal run` of its own pays Prefect's import (1.4-3 s), a first flow run's set-up and
Prefect's flush at exit (about 1 s) before and after its ~1.5 s of work. `govcal serve`
has paid all of that once: it listens on a loopback port (and a random token, both in
`<prefect home>/run-now.json`, removed when it stops) and runs the daily-compliance flow
in its own process, against the Prefect server it keeps, so the run and its artifacts
are in that server's UI as any other. `govcal run` sends the day, waits for the flow's
state and result, and prints its summary as usual; if serve does not answer, it runs
the flow itself. Only a serve with the very same settings takes the run (a digest of
both sides' settings is compared): a `govcal run` with another database, rules or
transport in its environment runs in its own process.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WAIT_S = 6 * 3600.0  # a national day takes minutes; a run is never cut off by the client

Outcome = dict[str, Any]  # {"state": name, "message": text, "result": the flow's dict}


def settings_digest() -> str:
    """What this process's settings (from its environment and files) come to, hashed."""
    from govcal.models.settings import get_settings

    def absolute(value: Any) -> Any:  # a relative path means another file in another folder
        return str(value.resolve()) if isinstance(value, Path) else value

    values = {key: absolute(value) for key, value in dict(get_settings()).items()}
    text = json.dumps(values, default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def marker(prefect_home: Path) -> Path:
    return prefect_home / "run-now.json"


class RunNowServer:
    """Serves POST /run {"as_of": day} with the token, one run at a time."""

    def __init__(
        self,
        prefect_home: Path,
        run_flow: Callable[[date], Outcome],
        warm: str | None = "govcal.flows.jobs",
    ) -> None:
        token, lock = secrets.token_urlsafe(24), threading.Lock()
        settings = settings_digest()  # serve's own, as it started

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path != "/run" or self.headers.get("X-Govcal-Token") != token:
                    self.send_error(403)
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if body.get("settings") != settings:
                    self.send_error(409, "serve runs with other settings")
                    return
                try:
                    with lock:
                        outcome = run_flow(date.fromisoformat(body["as_of"]))
                except Exception as exc:  # said to the caller as the flow's end
                    outcome = {"state": "Crashed", "message": str(exc), "result": None}
                data = json.dumps(outcome, default=str).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:  # serve's console is for people
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._marker = marker(prefect_home)
        url = f"http://127.0.0.1:{self._http.server_address[1]}/run"
        _write_private(self._marker, json.dumps({"url": url, "token": token}))
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        # the flows' import (Prefect's, 1.5-3 s) is paid now, not by the first run
        if warm:
            threading.Thread(target=importlib.import_module, args=(warm,), daemon=True).start()

    def close(self) -> None:
        self._marker.unlink(missing_ok=True)
        self._http.shutdown()
        self._http.server_close()


def _write_private(path: Path, text: str) -> None:
    """The token file, readable by its owner only from its first byte (written, then
    moved into place: never a moment with the default permissions)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


class Declined(Exception):
    """A serve was found but did not run the day; the message says why, for one line."""


def ask(prefect_home: Path, day: date) -> Outcome | None:
    """The outcome of the day's run made by `govcal serve`; None if no serve is running
    (then the caller runs the flow itself). Declined, with the reason, when one was
    found but did not run it (other settings, a stale or damaged marker, a bad answer):
    the caller says so and runs the flow itself."""
    try:
        text = marker(prefect_home).read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        info = json.loads(text)
        url, token = str(info["url"]), str(info["token"])
    except (ValueError, KeyError, TypeError):
        raise Declined(f"{marker(prefect_home)} is damaged") from None
    if not url.startswith("http://127.0.0.1:"):
        raise Declined(f"{marker(prefect_home)} names an address that is not this machine")
    request = urllib.request.Request(
        url,
        data=json.dumps({"as_of": day.isoformat(), "settings": settings_digest()}).encode(),
        headers={"Content-Type": "application/json", "X-Govcal-Token": token},
    )
    try:
        with urllib.request.urlopen(request, timeout=WAIT_S) as response:
            outcome = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        why = {
            403: "it did not accept the token in run-now.json",
            409: "it runs with other settings (database, rules, transport...)",
        }
        raise Declined(why.get(exc.code, f"it answered {exc.code}")) from None
    except (OSError, ValueError):
        raise Declined("it did not answer (stopped?)") from None
    if not _is_outcome(outcome):
        raise Declined("its answer was not a run's outcome")
    return outcome


def _is_outcome(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("state"), str)
        and isinstance(value.get("message"), str)
        and (value.get("result") is None or isinstance(value.get("result"), dict))
    )


def daily_outcome(day: date) -> Outcome:
    """Run daily-compliance here (serve's process) and say how it ended."""
    from govcal.flows.jobs import daily_compliance

    state = daily_compliance(as_of=day, return_state=True)
    result = state.result(raise_on_failure=False)
    return {
        "state": state.name,
        "message": state.message or "",
        "result": result if isinstance(result, dict) else None,
    }
