"""People answer govcal from the email: a signed link, taken from a real .eml in the
outbox, opens a page of the real app (uvicorn on a loopback port) saying in words what
its button records; only the POST records, through the same use cases as the command
line, as the person, by email link. Every link that cannot be used gets one page."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from tests.smtp_server import free_port
from tests.support.web import NOW, Site, at_once, day_sent, public_data, serve

DONE = "Record that this was done"
ACK = "Acknowledge this escalation"
RETURN = "Submit our return"


@pytest.fixture
def sent(sample_data, tmp_path, monkeypatch):
    """The sample's data folder with the day's messages in its outbox, sent with
    GOVCAL_PUBLIC_URL on a free loopback port; yields (port, outbox)."""
    port = public_data(sample_data, tmp_path, monkeypatch)
    day_sent(tmp_path / "outbox")
    return port, tmp_path / "outbox"


@pytest.fixture
def site(sent):
    port, outbox = sent
    serving = serve(port)
    yield Site(f"http://127.0.0.1:{port}", outbox, serving)
    serving.stop()


def _key(page: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', page).group(1)


def _trail(action: str | None = None) -> list:
    from sqlmodel import select

    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from govcal.models.trail import TrailEntry

    with session_scope(get_settings()) as session:
        rows = session.exec(select(TrailEntry).order_by(TrailEntry.id)).all()
        return [r for r in rows if action is None or r.action == action]


def _lifecycle(public_id: str) -> str:
    from govcal.models import queries
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        return queries.occurrence(session, public_id).lifecycle


def _item_of(page: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1)


def _owner_link(site: Site) -> tuple[str, str]:
    """A 'done' link of an owner who is not the business team, and its item's id."""
    for to, url, message in site.links(DONE):
        if "business-team" in to:
            continue
        text = message.get_body(preferencelist=("plain",)).get_content()
        block = text[: text.index(url)]
        return url, re.findall(r"Id: (\S+)", block)[-1]
    raise AssertionError("no owner's link in the outbox")


def test_a_link_from_an_email_names_the_item_and_only_the_button_records_it(site):
    url, item = _owner_link(site)
    before = len(_trail())
    page = httpx.get(url)  # what a mail scanner does, then a person
    httpx.head(url)
    httpx.get(url)
    assert page.status_code == 200
    assert "Pressing the button records that" in page.text
    assert "was done" in page.text and "evidence" in page.text
    assert _lifecycle(item) == "open" and len(_trail()) == before  # GET records nothing

    form = {"form_key": _key(page.text), "evidence": "https://example.org/m.pdf", "day": ""}
    answer = httpx.post(url, data=form)
    assert answer.status_code == 303
    shown = httpx.get(url)
    assert "Recorded" in shown.text and "completed on 2026-10-06" in shown.text
    assert _lifecycle(item) == "completed"
    done = [r for r in _trail() if r.entity_id == item and r.action == "completed"]
    assert done and done[-1].channel == "email-link" and "(sample)" in done[-1].actor
    used = _trail("email-link-used")[-1]
    assert used.after["client"] == "127.0.0.1" and "@example.org" in used.actor


def test_a_second_click_says_what_was_recorded_when_and_by_whom(site):
    url, _item = _owner_link(site)
    key = _key(httpx.get(url).text)
    form = {"form_key": key, "evidence": "https://example.org/minutes.pdf"}
    assert httpx.post(url, data=form).status_code == 303
    rows = len(_trail())
    again = httpx.post(url, data=form, follow_redirects=True)
    assert "Already recorded on 6 October 2026 at 13:00 BST" in again.text
    assert "completed on 2026-10-06 by" in again.text
    assert len(_trail()) == rows  # nothing recorded twice


def test_expired_tampered_unknown_revoked_and_left_links_get_one_plain_page(site, sent):
    from govcal.models import actions, records
    from govcal.models.action_links import revoke_for
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings

    links = [url for _to, url, _m in site.links(DONE) if "business-team" not in _to]
    good, revoked, left_owner = links[0], links[1], None
    dead = []
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    dead.append(httpx.get(tampered))
    link_id, sig = good.rsplit("/", 1)[1].split(".")
    dead.append(httpx.get(f"{site.base}/a/{'x' * len(link_id)}.{sig}"))  # never existed
    other = links[2].rsplit("/", 1)[1].split(".")[1]
    dead.append(httpx.get(f"{site.base}/a/{link_id}.{other}"))  # another link's signature
    with session_scope(get_settings()) as session:  # the business team revokes one link's item
        item = next(r for r in _trail() if r.action).entity_id  # any: replaced below
        from govcal.models.action_links import ActionLink

        row = session.get(ActionLink, revoked.rsplit("/", 1)[1].split(".")[0])
        revoke_for(session, item=row.item)
    dead.append(httpx.get(revoked))
    for to, url, _m in site.links(ACK):  # a Lead Partner leaves
        with session_scope(get_settings()) as session:
            address = re.search(r"<(.+)>", to).group(1)
            actions.remove_person(session, address, records.Actor("test-user"), reason="left")
        left_owner = url
        break
    dead.append(httpx.get(left_owner))
    later = serve(free_port(), now=NOW + timedelta(days=31))  # the same links, 31 days on
    try:
        dead.append(httpx.get(good.replace(site.base, f"http://127.0.0.1:{later.port}")))
    finally:
        later.stop()
    assert [r.status_code for r in dead] == [404] * 6
    assert len({r.text for r in dead}) == 1
    assert "This link cannot be used" in dead[0].text
    assert "mailto:business-team@example.org" in dead[0].text or "mailto:" in dead[0].text
    assert item is not None


def test_a_post_without_the_pages_form_key_records_nothing(site):
    url, item = _owner_link(site)
    other = site.links(DONE)[-1][1]
    wrong = _key(httpx.get(other).text)
    for form in (
        {"evidence": "https://example.org/m.pdf"},
        {"form_key": wrong, "evidence": "https://example.org/m.pdf"},
    ):
        answer = httpx.post(url, data=form)
        assert answer.status_code == 403 and "Nothing has been recorded" in answer.text
    assert _lifecycle(item) == "open"
    assert not _trail("email-link-used")


def test_hostile_notes_are_refused_or_shown_harmlessly(site):
    _to, url, _m = site.links(ACK)[0]
    key = _key(httpx.get(url).text)
    control = httpx.post(url, data={"form_key": key, "note": "seen\x00\x1b[2J"})
    assert control.status_code == 400 and "control character" in control.text
    assert not _trail("escalation-acknowledged")
    script = "</textarea><script>alert(1)</script>"
    refused = httpx.post(url, data={"form_key": key, "note": script + "\x00"})
    assert "<script>" not in refused.text and "&lt;script&gt;" in refused.text
    injected = f"{script}\r\nBcc: all@evil.example"
    ok = httpx.post(url, data={"form_key": key, "note": injected}, follow_redirects=True)
    assert ok.status_code == 200 and "<script>" not in ok.text
    trail = _trail("escalation-acknowledged")
    assert trail and trail[0].after["note"] == f"{script} Bcc: all@evil.example"  # one line


def test_oversized_bodies_and_odd_requests_are_refused(site):
    url, item = _owner_link(site)
    key = _key(httpx.get(url).text)
    big = httpx.post(url, data={"form_key": key, "evidence": "https://e.org/" + "x" * 100_000})
    assert big.status_code == 413

    def chunks():
        yield f"form_key={key}&evidence=https://e.org/".encode()
        for _ in range(40):
            yield b"x" * 1024

    assert (
        httpx.post(
            url, content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
        ).status_code
        == 413
    )
    assert httpx.post(url, json={"form_key": key}).status_code == 415
    form = {"content-type": "application/x-www-form-urlencoded"}
    many = httpx.post(url, content=f"form_key={key}" + "&" * 20, headers=form)
    assert many.status_code == 400 and "Send the form from its page" in many.text
    secret = {"form_key": key, "evidence": "https://someone:hunter2@example.org/m.pdf"}
    refused = httpx.post(url, data=secret)  # it would be shown to every reader of the pack
    assert refused.status_code == 400 and "name or password" in refused.text
    slash = httpx.get(url + "/", headers={"host": "evil.example"})
    assert slash.status_code == 404 and "evil.example" not in slash.headers.get("location", "")
    assert _lifecycle(item) == "open"


def test_every_answer_carries_the_security_headers_and_limits_apply(sent):
    port, outbox = sent
    serving = serve(port, per_token_minute=3)
    try:
        site = Site(f"http://127.0.0.1:{port}", outbox, serving)
        url, _item = _owner_link(site)
        answers = [httpx.get(url) for _ in range(4)] + [httpx.get(f"{site.base}/nowhere")]
        for answer in answers:
            csp = answer.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src" not in csp
            assert "'unsafe-inline'" not in csp
            assert answer.headers["referrer-policy"] == "no-referrer"
        assert [a.status_code for a in answers[:4]] == [200, 200, 200, 429]
    finally:
        serving.stop()


def test_tokens_never_reach_the_log(site, caplog):
    url, _item = _owner_link(site)
    token = url.rsplit("/", 1)[1]
    base = url.rsplit("/a/", 1)[0]
    with caplog.at_level("INFO", logger="govcal.web"):
        httpx.get(f"{base}/static/govcal.css")
        httpx.post(url, data={"form_key": "x"})
        # a link a client or a person mangled, and a pack's address: none is written
        for mangled in (f"//a/{token}", f"/A/{token}", f"/static/../a/{token}", f"/x/{token}"):
            with httpx.Client() as client:
                client.send(client.build_request("GET", base, extensions={"target": mangled}))
        httpx.get(f"{base}/packs/{token}.html")
        httpx.get(url)  # the line of the last answer is written once it has gone
    assert "/a/***" in caplog.text and "/packs/***" in caplog.text
    assert token not in caplog.text and token.split(".")[0] not in caplog.text
    assert "/static/govcal.css" in caplog.text  # what holds no secret is logged whole


def test_a_double_click_records_one_answer_whatever_the_timing(site):
    items: dict[str, tuple[str, str]] = {}  # one link per item (an owner's, a team's)
    for _to, url, _m in site.links(DONE):
        page = httpx.get(url).text
        if "meeting" not in _item_of(page).lower():  # a meeting next week is not done yet
            items.setdefault(_item_of(page), (url, _key(page)))
    links = list(items.values())
    assert len(links) >= 2
    form = {"evidence": "https://example.org/minutes.pdf"}
    answers = at_once([(url, form | {"form_key": key}) for url, key in links for _ in (1, 2)])
    assert [a.status_code for a in answers] == [303] * len(answers)
    used = [r.entity_id for r in _trail("email-link-used")]
    done = [r.entity_id for r in _trail("completed")]
    assert len(used) == len(set(used)) == len(links)  # each link's answer once
    assert len(done) == len(set(done)) == len(links)


def test_a_deputy_sent_an_escalation_for_a_lead_partner_can_acknowledge_it(site):
    """A deputy gets the Lead Partner's escalation "as deputy for" them, and acts for
    them: their copy carries the acknowledge link too, and it records."""
    deputies = [
        (to, url)
        for to, url, message in site.links(ACK)
        if "as deputy for" in message.get_body(preferencelist=("plain",)).get_content()
    ]
    assert deputies, "no deputy's copy of an escalation carries the acknowledge link"
    _to, url = deputies[0]
    page = httpx.get(url)
    assert page.status_code == 200 and "Acknowledge" in page.text
    answer = httpx.post(url, data={"form_key": _key(page.text), "note": "Seen"})
    assert answer.status_code == 303
    assert len(_trail("email-link-used")) == 1


def test_lead_partners_acknowledging_one_escalation_at_once_get_one_answer(site):
    pages = [(url, httpx.get(url)) for _to, url, _m in site.links(ACK)]
    first = _item_of(pages[0][1].text)
    same = [(url, page) for url, page in pages if _item_of(page.text) == first]
    assert len(same) >= 2  # the Lead Partners and DSPs each have a link for it
    answers = at_once([(url, {"form_key": _key(page.text), "note": "Seen"}) for url, page in same])
    codes = sorted(a.status_code for a in answers)
    assert codes[0] == 303 and set(codes) <= {303, 404}  # the others: the link is used up
    assert not [a for a in answers if a.status_code == 404 and "cannot be used" not in a.text]
    assert len(_trail("email-link-used")) == codes.count(303) == 1
