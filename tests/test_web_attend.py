"""An invitee answers from the invite: I'll attend, I can't, or a deputy (who is then
invited). The answer is kept in the same record a calendar's Accept/Decline reply makes
(models/attendance.py)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.web import Site, day_sent, public_data, serve

attendance = pytest.importorskip("govcal.models.attendance")
LABEL = "Answer: I'll attend, I can't, or I'm sending a deputy"


@pytest.fixture
def site(sample_data, tmp_path, monkeypatch):
    port = public_data(sample_data, tmp_path, monkeypatch)
    day_sent(tmp_path / "outbox")
    serving = serve(port)
    yield Site(f"http://127.0.0.1:{port}", tmp_path / "outbox", serving)
    serving.stop()


def _invite_links(site: Site) -> list[tuple[str, str, object]]:
    found = []
    for message in site.messages():
        if not message["Subject"].startswith(("Invitation", "Updated")):
            continue
        text = message.get_body(preferencelist=("plain",)).get_content()
        for block in text.split(f"{LABEL} (")[1:]:
            found.append((str(message["To"]), re.search(r"http\S+/a/\S+", block).group(0), message))
    return found


def _answers() -> dict:
    from sqlmodel import select

    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        rows = session.exec(select(attendance.AttendanceAnswer)).all()
        return {(r.attendee, r.answer, r.deputy, r.source) for r in rows}


def test_each_invitee_gets_their_own_invite_and_answers_from_it(site):
    links = _invite_links(site)
    assert links, "no invite carries an answer link"
    for to, _url, message in links:  # a personal link never reaches another invitee
        assert str(message["To"]).count("@") == 1, to
    to, url, _message = links[0]
    address = re.search(r"<(.+)>", to).group(1).lower()
    page = httpx.get(url)
    assert "Will you attend?" in page.text and not _answers()
    key = re.search(r'name="form_key" value="([^"]+)"', page.text).group(1)
    refused = httpx.post(url, data={"form_key": key, "answer": "deputy", "deputy": ""})
    assert refused.status_code == 400 and not _answers()
    # the deputy's address goes into an invite's To: header: nothing there but an address
    for hostile in ("a\x00b@evil.example", "x\x1b[2J@evil.example", "gpj\u202eexe@evil.example"):
        form = {"form_key": key, "answer": "deputy", "deputy": hostile}
        refused = httpx.post(url, data=form)
        assert refused.status_code == 400 and not _answers(), hostile
        assert "email address" in refused.text
    mine = httpx.post(url, data={"form_key": key, "answer": "deputy", "deputy": address})
    assert mine.status_code == 400 and "your own address" in mine.text and not _answers()
    form = {"form_key": key, "answer": "deputy", "deputy": "deputy@example.org"}
    done = httpx.post(url, data=form, follow_redirects=True)
    assert "deputy@example.org comes instead" in done.text
    assert _answers() == {(address, "deputy", "deputy@example.org", "link")}
