"""A digest as its readers meet it: short enough for a phone whatever the day holds, the
people behind late returns named, and each line true for who reads it. Each test runs
the real sync and notify into a file outbox and reads the .eml's text and HTML parts."""

from __future__ import annotations

import email
import re
from datetime import UTC, date, datetime
from email import policy
from pathlib import Path

import pytest

from govcal.flows.steps import notify
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from govcal.models.settings import get_settings
from govcal.models.sync import sync_partnership
from govcal.notifications.render import Digest, DigestLine, Sender, render_digest
from govcal.notifications.transport import FileOutbox
from govcal.rules.state import State
from tests.support.paths import SAMPLE_DIRECTORY

D = date.fromisoformat
SENDER = Sender("WFSCP business team", "wfscp-business@example.org")
LSP = "lsp-wfc@example.org"
CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}  # CSS pixels of a common phone screen


def outbox_on(tmp_path: Path, wfscp, migrated_copy, day: date) -> dict:
    """The sample directory, synced and notified as of `day`: each digest by recipient."""
    url = migrated_copy(tmp_path / "digest.db")
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
        sync_partnership(s, wfscp, day)
    out = tmp_path / "outbox"
    seven = datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=7)
    with session_scope(url) as s:
        notify(s, [wfscp], day, FileOutbox(out), SENDER, now=seven, settings=get_settings())
    digests = {}
    for path in out.glob("*digest*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        digests[message["To"].addresses[0].addr_spec] = message
    return digests  # type: ignore[return-value]


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def words(text: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


@pytest.fixture
def april_15(tmp_path, wfscp, migrated_copy):
    """As of Thu 15 Apr 2027 no 2027 S175 return is recorded: all 148 schools are 15 days
    late, past the day-14 step to the Lead Partners."""
    return outbox_on(tmp_path, wfscp, migrated_copy, D("2027-04-15"))


def test_148_late_schools_are_the_worst_few_named_and_a_count_in_both_parts(april_15):
    message = april_15[LSP]
    text, html = text_of(message), html_of(message)
    assert len(text.splitlines()) <= 60, text
    for part in (words(text), words(html)):
        assert "Section 175 safeguarding audit 2027 — 148 of 148 schools not returned" in part
        assert "; and 145 more schools" in part  # three named, then the count
        assert len(set(re.findall(r"\bwf-[a-z]\d{3}\b", part))) == 3, part  # not 148 codes
    assert "Ambleside Sample Primary School 122" not in words(html)


def test_the_people_behind_late_returns_are_named_with_their_school(april_15):
    """The round's owner is not 'each agency's own lead': the directory names them."""
    part = words(text_of(april_15[LSP]))
    named = re.search(r"Not returned: (.*?); and 145 more schools", part).group(1).split("; ")
    assert len(named) == 3
    for member in named:  # as the directory has them: the person, their school, its code
        assert re.fullmatch(
            r"Designated Safeguarding Lead, .+ \(sample\) \(wf-[a-z]\d{3}\)", member
        ), member
    owner = "each school's own lead (Designated safeguarding lead of a school), the late ones"
    assert f"Owner: {owner} named above" in part


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs apt-get install chromium")
def test_the_html_part_fits_two_phone_screens(april_15):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport=PHONE)
        heights = {}
        for to, message in april_15.items():
            page.set_content(html_of(message))
            heights[to] = page.evaluate("document.documentElement.scrollHeight")
        page.set_content(html_of(_busy_digest()))
        heights["busy"] = page.evaluate("document.documentElement.scrollHeight")
        browser.close()
    assert max(heights.values()) <= 2 * PHONE["height"], heights


def _busy_digest(title: str = "A governance item with a long enough title to wrap, number {n}"):
    """A business team's worst day: 30 overdue items and a round of 148 schools."""
    lines = [
        DigestLine(
            public_id=f"wfscp:item-{n}:2027-03-{n % 28 + 1:02d}",
            title=title.format(n=n),
            due=D(f"2027-03-{n % 28 + 1:02d}"),
            state=State.OVERDUE,
            state_text="overdue",
            kind="escalation",
            stage="escalation-14",
            role="business-team",
            source="Westmorland and Furness Safeguarding Children Partnership arrangements, 2025",
            evidence="Approved minutes of the meeting and the highlight report",
            owner="Partnership Manager (sample) and Business Support Officer (sample)",
            days_overdue=45 - n,
        )
        for n in range(30)
    ] + [
        DigestLine(
            public_id=f"wfscp:section-175-audit:2027-03-31:wf-p{n:03d}",
            title="Section 175 safeguarding audit",
            due=D("2027-03-31"),
            state=State.OVERDUE,
            state_text="overdue",
            kind="escalation",
            stage="escalation-14",
            role="business-team",
            source="Education Act 2002 s175",
            evidence="The school's completed Section 175 return",
            subject_name=f"Sample Primary School {n}",
            days_overdue=15,
            round_id="wfscp:section-175-audit:2027-03-31",
            per="school",
            round_total=148,
            owner_role="dsl",
            lead=f"Jo Bloggs {n}",
        )
        for n in range(148)
    ]
    digest = Digest(
        key="busy",
        recipient="business-team@example.org",
        recipient_name="Business Support Officer",
        partnership_name="WFSCP",
        lines=lines,
        timezone="Europe/London",
        for_business_team=True,
    )
    raw = render_digest(digest, SENDER, datetime(2027, 4, 15, 7, tzinfo=UTC))
    return email.message_from_bytes(raw, policy=policy.default)


def test_a_day_of_thirty_late_items_reads_the_worst_few_and_the_count():
    message = _busy_digest()
    text = text_of(message)
    assert len(text.splitlines()) <= 60, text
    for part in (words(text), words(html_of(message))):
        assert "31 items on the WFSCP governance calendar need your attention" in part
        assert re.search(
            r"And \d+ more items \(\d+ overdue\), less pressing \(.*\): govcal status "
            r"--overdue lists them all\.",
            part,
        ), part
        assert "number 0" in part  # the longest overdue is shown
        assert "number 29" not in part  # the least is counted, not shown


def test_a_lead_partners_escalation_asks_them_to_acknowledge_not_to_record_it_done():
    """A chief executive is told what they can do about an escalation: acknowledge it
    (or ask), not "record what was done", which is the owner's to do."""
    line = DigestLine(
        public_id="wfscp:annual-report:2027-03-31",
        title="Yearly report",
        due=D("2027-03-31"),
        state=State.OVERDUE,
        state_text="overdue",
        kind="escalation",
        stage="escalation-14",
        role="lsp",
        source="Working Together to Safeguard Children 2023",
        evidence="The published report",
        owner="Partnership Manager (sample)",
        days_overdue=15,
    )
    digest = Digest(
        key="ceo",
        recipient="lsp-wfc@example.org",
        recipient_name="Chief Executive",
        partnership_name="WFSCP",
        lines=[line],
        timezone="Europe/London",
    )
    raw = render_digest(digest, SENDER, datetime(2027, 4, 15, 7, tzinfo=UTC))
    message = email.message_from_bytes(raw, policy=policy.default)
    for part in (words(text_of(message)), words(html_of(message))):
        assert "To acknowledge it, or to ask" in part
        assert "Record what was done" not in part


def test_what_a_digest_only_counts_is_named_by_whole_words_in_closed_brackets():
    """A long title in the "And N more items" line is cut at a word and never inside
    its own bracket ("(with Cumberland S…" read as a fault)."""
    long = "Joint meeting {n} (with Cumberland Safeguarding Children Partnership)"
    text = words(text_of(_busy_digest(long)))
    more = re.search(r"And \d+ more items \(\d+ overdue\), less pressing \((.*)\): govcal", text)
    assert more is not None, text
    named = more.group(1)
    assert named.count("(") == named.count(")") and "Cumberland S" not in named
    assert re.search(r"Joint meeting \d+ …", named), named


def test_a_school_reads_its_own_return_its_own_day_one_and_one_day(tmp_path, wfscp, migrated_copy):
    """Thu 1 Apr 2027: each school's S175 return (due 31 Mar) is one day late; its DSL
    is told of their own return, not 'escalated' and not '1 of 148'."""
    digests = outbox_on(tmp_path, wfscp, migrated_copy, D("2027-04-01"))
    message = digests["dsl-wf-n001@example.org"]
    text = words(text_of(message))
    assert "== Overdue ==" in text_of(message)
    assert "escalated to you" not in text and "Escalation" not in message["Subject"]
    assert "1 day overdue" in text and "1 days" not in text + message["Subject"]
    assert "of 148 schools" not in text
    assert (
        "Section 175 safeguarding audit 2027 — the return of Kendal Sample Nursery School 1" in text
    )
    assert message["Subject"].startswith(
        "Overdue: Section 175 safeguarding audit 2027 — the "
        "return of Kendal Sample Nursery School 1 (1 day overdue)"
    )


def test_an_escalated_meeting_says_what_is_missing(tmp_path, wfscp, migrated_copy):
    """Wed 18 Nov 2026: the joint LSP meeting of 11 Nov has no minutes recorded; the DSPs
    are told it is the minutes that are missing, not that a meeting is late."""
    digests = outbox_on(tmp_path, wfscp, migrated_copy, D("2026-11-18"))
    message = digests["dsp-wfc@example.org"]
    told = (
        "Joint Lead Safeguarding Partners meeting (with Cumberland SCP) — missing: approved "
        "minutes of the meeting"
    )
    assert told in words(text_of(message)), text_of(message)
    assert told in words(html_of(message))
    assert told in message["Subject"]


def test_one_more_is_singular():
    """A round of four agencies: three named, then "and 1 more agency" (not "agencies")."""
    lines = [
        DigestLine(
            public_id=f"wfscp:section-11-audit:2026-10-31:a{n}",
            title="Section 11 self-assessment audit",
            due=D("2026-10-31"),
            state=State.OVERDUE,
            state_text="overdue",
            kind="escalation",
            stage="escalation-14",
            role="lsp",
            source="Children Act 2004 s11",
            evidence="The agency's completed Section 11 return",
            subject_name=f"Agency {n}",
            days_overdue=16,
            round_id="wfscp:section-11-audit:2026-10-31",
            per="agency",
            round_total=20,
            owner_role="agency-lead",
        )
        for n in range(4)
    ]
    digest = Digest(
        key="four",
        recipient="lsp@example.org",
        recipient_name="A Lead Partner",
        partnership_name="WFSCP",
        lines=lines,
        timezone="Europe/London",
    )
    raw = render_digest(digest, SENDER, datetime(2026, 11, 16, 7, tzinfo=UTC))
    message = email.message_from_bytes(raw, policy=policy.default)
    for part in (words(text_of(message)), words(html_of(message))):
        assert "4 of 20 agencies not returned" in part
        assert "Agency 2 (a2); and 1 more agency" in part, part


def test_every_digest_of_a_year_of_working_mondays_stays_bounded(tmp_path, wfscp, migrated_copy):
    """Any day, not one day: from the sample's first day of govcal to a year on, a Monday
    every four weeks, every digest fits 60 lines of text (and the words of two phone
    screens, about 2,100 characters)."""
    from datetime import timedelta

    url = migrated_copy(tmp_path / "year.db")
    with session_scope(url) as s:
        import_directory(s, SAMPLE_DIRECTORY / "wfscp", wfscp)
    day, longest = D("2026-10-05"), (0, 0, "")
    while day < D("2027-10-04"):
        with session_scope(url) as s:
            sync_partnership(s, wfscp, day)
        out = tmp_path / f"outbox-{day}"
        seven = datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=7)
        with session_scope(url) as s:
            notify(s, [wfscp], day, FileOutbox(out), SENDER, now=seven, settings=get_settings())
        for path in out.glob("*digest*.eml"):
            text = text_of(email.message_from_bytes(path.read_bytes(), policy=policy.default))
            size = (len(text.splitlines()), len(words(text)), f"{day} {path.name}")
            longest = max(longest, size)
            assert size[0] <= 60 and size[1] <= 2100, (size, text)
        day += timedelta(days=28)
    assert longest[0] > 30  # the year has long days, and they were bounded
