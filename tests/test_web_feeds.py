"""Feeds over HTTP from the database: every feed by its own token (group feeds too),
with ETag, Last-Modified and 304; a rotated token stops at once; the files stay, readable
by a web server, and a group file at a guessable name carries no incident reference."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import httpx
import pytest

from tests.smtp_server import free_port
from tests.support.snapshots import copy_data
from tests.support.web import DAY, serve

REFERENCE = "SI-2026-099"


@pytest.fixture
def feeds(sample_data, tmp_path, monkeypatch):
    """The sample with an incident's clocks running and the feeds written as of DAY;
    yields (base URL, feeds folder)."""
    from govcal.flows.runtime import build_runtime
    from govcal.flows.steps import publish_feeds
    from govcal.models import actions, records
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings

    copy_data(sample_data, tmp_path / "data")
    port = free_port()
    monkeypatch.setenv("GOVCAL_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK", "true")
    get_settings.cache_clear()
    runtime = build_runtime()
    wfscp = runtime.partnership("wfscp")
    folder = tmp_path / "data" / "feeds"
    with session_scope(get_settings()) as session:
        actions.start_incident_clock(
            session, wfscp, REFERENCE, records.Actor("test-user"), aware_on=DAY, today=DAY
        )
    private = os.umask(0o077)  # a service's strict umask: the files must still be readable
    try:
        with session_scope(get_settings()) as session:
            publish_feeds(session, [wfscp], DAY, folder)
    finally:
        os.umask(private)
    serving = serve(port)
    yield f"http://127.0.0.1:{port}", folder
    serving.stop()


def _tokens() -> dict[str, str]:
    from govcal.models.db import session_scope
    from govcal.models.feed_tokens import all_feed_tokens
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        return {row.email: row.token for row in all_feed_tokens(session)}


def test_every_feed_is_served_by_its_token_with_validators(feeds):
    base, _folder = feeds
    tokens = _tokens()
    person = httpx.get(f"{base}/feeds/{tokens['lsp-wfc@example.org']}.ics")
    assert person.status_code == 200
    assert person.headers["content-type"].startswith("text/calendar")
    assert person.text.startswith("BEGIN:VCALENDAR")
    etag, modified = person.headers["etag"], person.headers["last-modified"]
    assert modified.endswith(" GMT")
    assert "max-age" in person.headers["cache-control"]
    again = httpx.get(
        f"{base}/feeds/{tokens['lsp-wfc@example.org']}.ics", headers={"if-none-match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    since = httpx.get(
        f"{base}/feeds/{tokens['lsp-wfc@example.org']}.ics", headers={"if-modified-since": modified}
    )
    assert since.status_code == 304
    groups = [key for key in tokens if key.startswith("group:")]
    assert "group:wfscp" in groups and any("/roles/" in key for key in groups)
    whole = httpx.get(f"{base}/feeds/{tokens['group:wfscp']}.ics")
    assert whole.status_code == 200 and REFERENCE in whole.text  # behind its own token


def test_conditional_requests_read_as_rfc_9110_says(feeds):
    """Calendar clients send every form of the validators: a list of tags, a weak tag,
    *, and dates in every state of repair. None is a server error, and a date in the
    future (a client with a wrong clock) never stops a change reaching it."""
    base, _folder = feeds
    url = f"{base}/feeds/{_tokens()['lsp-wfc@example.org']}.ics"
    etag = httpx.get(url).headers["etag"]

    def status(**headers: str) -> int:
        return httpx.get(url, headers=headers).status_code

    assert status(**{"if-none-match": f'"other", W/{etag}'}) == 304
    assert status(**{"if-none-match": '"other",  *'}) == 304
    assert status(**{"if-none-match": '"other"'}) == 200
    assert status(**{"if-modified-since": "Mon, 01 Jan 99999999999 00:00:00 GMT"}) == 200
    assert status(**{"if-modified-since": "Fri, 31 Dec 9999 23:59:59 GMT"}) == 200
    assert status(**{"if-modified-since": "not a date"}) == 200
    assert status(**{"if-modified-since": "Sat, 01 Jan 2000 00:00:00 GMT"}) == 200


def test_a_group_file_at_a_guessable_name_carries_no_incident_reference(feeds):
    _base, folder = feeds
    guessable = [folder / "wfscp.ics", *sorted((folder / "wfscp" / "roles").glob("*.ics"))]
    assert len(guessable) > 3
    for path in guessable:
        assert REFERENCE not in path.read_text(), path.name
    people = list((folder / "wfscp" / "people").glob("*.ics"))
    assert any(REFERENCE in p.read_text() for p in people)  # the owners still see it


def test_feed_files_are_readable_by_a_web_server(feeds):
    _base, folder = feeds
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))


def test_rotating_a_feed_stops_the_old_link_at_once(feeds):
    base, _folder = feeds
    old = _tokens()["group:wfscp"]
    assert httpx.get(f"{base}/feeds/{old}.ics").status_code == 200
    command = ["feeds", "--rotate", "group:wfscp", "--as-of", str(DAY)]
    shown = subprocess.run(
        [sys.executable, "-m", "govcal.cli", *command], capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    new = _tokens()["group:wfscp"]
    assert f"{base}/feeds/{new}.ics" in shown.stdout
    assert httpx.get(f"{base}/feeds/{old}.ics").status_code == 404
    assert httpx.get(f"{base}/feeds/{new}.ics").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/..%2F..%2Fgovcal.db",
        "/feeds/../../govcal.db",
        "/feeds/%2e%2e%2fweb-secret",
        "/feeds/wfscp.ics",
        "/feeds/AAAAAAAAAAAAAAAAAAAAAAAA.ics",
        "/feeds/x/../../web-secret",
    ],
)
def test_feed_names_that_are_not_tokens_find_nothing(feeds, path):
    base, _folder = feeds
    answer = httpx.get(f"{base}{path}")
    assert answer.status_code == 404
    assert b"SQLite" not in answer.content and len(answer.content) < 100
