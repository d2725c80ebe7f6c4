"""The cockpit's shaping, without Prefect: sections, escalation answers, cycle choice,
narrow cells. Pure functions over plain values."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlmodel import select

from govcal.flows.dashboard import Dashboard, Item, current_cycle, return_row, shorten
from govcal.models.calendar import OccurrenceRow
from govcal.models.escalations import Escalation
from govcal.rules.state import State

D = date.fromisoformat
TODAY = D("2026-11-24")


def item(title: str, due: str, state: State, **kw) -> Item:
    days = (D(due) - TODAY).days
    return Item(
        title,
        D(due),
        "Jo Bloggs, Westmorland and Furness Council",
        state,
        days,
        f"wfscp:{title.lower().replace(' ', '-')}:{due}",
        **kw,
    )


def escalated(on: str, ack_by: str = "", ack_on: str | None = None) -> Escalation:
    at = datetime.fromisoformat(f"{on}T08:00:00+00:00")
    ack = datetime.fromisoformat(f"{ack_on}T09:30:00+00:00") if ack_on else None
    return Escalation(at, ack_by, ack)


def test_each_item_is_in_exactly_one_section_in_the_order_a_manager_reads():
    board = Dashboard("wfscp", "WFSCP", TODAY)
    board.items = [
        item("Notify the Panel", "2026-11-27", State.DUE_SOON, clock=True),
        item("Papers", "2026-11-30", State.DUE_SOON),
        item("Minutes", "2026-11-20", State.OVERDUE),
        item("Annual report", "2026-11-03", State.OVERDUE, escalation=escalated("2026-11-17")),
        item("Old review", "2026-09-30", State.OVERDUE, flagged=True),
        item("Far away", "2027-02-01", State.UPCOMING),
    ]
    sections = {k: [i.title for i in v] for k, v in board.sections().items()}
    assert sections == {
        "clocks": ["Notify the Panel"],
        "soon": ["Papers"],
        "overdue": ["Minutes"],
        "escalated": ["Annual report"],
        "decision": ["Old review"],
    }
    text = board.markdown()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Statutory clocks running (1)",
        "## Due in the next 14 days (1)",
        "## Overdue, by owner (1)",
        "## Escalated to the Lead Partners (1)",
        "## Needs a decision (28+ days overdue) (1)",
    ]
    clock = next(line for line in text.splitlines() if "Notify the Panel" in line)
    assert (
        clock.index("Notify the Panel")
        < clock.index("due 27 Nov 2026")
        < clock.index("3 days left")
    )
    assert clock.endswith("`wfscp:notify-the-panel:2026-11-27`")  # the id last
    assert "Far away" not in text
    table = board.table()
    assert [r["What"] for r in table][:3] == ["Notify the Panel", "Minutes", "Annual report"]
    assert list(table[0]) == ["What", "Due", "Owner", "Id"]


def test_an_empty_overdue_section_says_where_the_overdue_items_are():
    """ "Overdue, by owner (0)" under a headline of items overdue read as none overdue:
    the section names where they are."""
    board = Dashboard("wfscp", "WFSCP", TODAY)
    board.items = [
        item("Notify the Panel", "2026-11-20", State.OVERDUE, clock=True),
        item("Old review", "2026-09-30", State.OVERDUE, flagged=True),
        item("Papers", "2026-11-30", State.DUE_SOON),
    ]
    lines = board.markdown().splitlines()
    said = lines[lines.index("## Overdue, by owner (0)") + 1]
    assert said == (
        "None here: the 2 overdue items are under *Statutory clocks running* and "
        "*Needs a decision (28+ days overdue)*."
    )
    calm = Dashboard("wfscp", "WFSCP", TODAY)
    calm.items = [item("Papers", "2026-11-30", State.DUE_SOON)]
    lines = calm.markdown().splitlines()
    assert lines[lines.index("## Overdue, by owner (0)") + 1] == "Nothing."


def test_the_open_items_table_gives_the_due_day_and_a_named_owner_beside_the_whole_id():
    board = Dashboard("wfscp", "WFSCP", TODAY)
    long_id = "safeguarding-accountability-meeting"  # the sample's longest rule id
    board.items = [
        replace(
            item(
                "Joint Lead Safeguarding Partners meeting",
                "2026-11-11",
                State.OVERDUE,
                lead="J. Bloggs",
            ),
            public_id="wfscp:lsp-meeting:2026-11-11",
        ),
        item("Section 11 audit", "2026-10-31", State.OVERDUE, lead="3 leads"),
        Item(
            "Safeguarding Accountability Meeting",
            D("2026-12-15"),
            "Joanna Bloggs-Smith, Westmorland and Furness Council",
            State.DUE_SOON,
            21,
            f"wfscp:{long_id}:2026-12-08",
        ),
    ]
    rows = {r["Id"]: r for r in board.table()}
    lsp = rows["wfscp:lsp-meeting:2026-11-11"]
    assert (lsp["Due"], lsp["Owner"]) == ("🔴 11 Nov", "J. Bloggs")
    assert rows["wfscp:section-11-audit:2026-10-31"]["Owner"] == "3 leads"  # a round
    sam = rows[f"wfscp:{long_id}:2026-12-08"]  # no lead given: the owner's name, short
    assert (sam["Due"], sam["Owner"]) == ("🟠 15 Dec", "J. Bloggs-Sm…")
    # the titles have what the longest id leaves (73 - 52 characters), cut in a word
    # rather than keep half of that; each id whole
    assert all(len(r["What"]) <= 21 for r in rows.values())
    assert lsp["What"] == "Joint Lead Safeguard…"


def test_an_escalation_unanswered_for_a_week_reads_no_response():
    waiting = item("Report", "2026-11-03", State.OVERDUE, escalation=escalated("2026-11-20"))
    silent = item("Report", "2026-11-03", State.OVERDUE, escalation=escalated("2026-11-17"))
    answered = item(
        "Report",
        "2026-11-03",
        State.OVERDUE,
        escalation=escalated("2026-11-17", "Chief Constable", "2026-11-19"),
    )
    assert waiting.response(TODAY) == "escalated 20 Nov 2026, awaiting a response"
    assert silent.response(TODAY) == "**no response** after 7 days"
    assert silent.stands(TODAY) == "21 days late; LSPs: no reply"
    assert answered.response(TODAY) == "acknowledged by Chief Constable on 19 Nov 2026"
    assert answered.stands(TODAY) == "21 days late; acknowledged 19 Nov"


@dataclass
class Cycle:
    due: date


def test_the_cycle_shown_is_the_overdue_one_while_returns_are_missing():
    c2026, c2027 = Cycle(D("2026-03-31")), Cycle(D("2027-03-31"))
    assert current_cycle([(c2026, 0, 148), (c2027, 0, 148)], TODAY)[0] is c2026
    assert current_cycle([(c2026, 148, 148), (c2027, 0, 148)], TODAY)[0] is c2027


def test_a_name_cut_short_keeps_its_last_word():
    from govcal.flows.dashboard import shorten_name

    assert shorten_name("Kirkby Sample Primary School 35", 25) == "Kirkby Sample Primary… 35"
    assert shorten_name("Kirkby Sample Primary School 21", 25) == "Kirkby Sample Primary… 21"
    assert shorten_name("Primary Care (GPs)", 25) == "Primary Care (GPs)"


def test_narrow_cells_cut_at_a_word():
    assert shorten("Papers circulated for the Safeguarding Accountability Meeting", 40) == (
        "Papers circulated for the Safeguarding…"
    )
    assert shorten("Minutes", 40) == "Minutes"


def test_a_school_missing_its_return_comes_first():
    late, row = return_row(
        "Kendal Primary", "wf-p001", None, D("2026-03-31"), None, [], TODAY, "schools"
    )
    done, _ = return_row(
        "Barrow Primary", "wf-p002", D("2026-03-20"), D("2026-03-31"), "green", [], TODAY, "schools"
    )
    assert late < done
    assert row == {
        "School": "Kendal Primary",
        "Returned": "🔴 missing, due 31 Mar",
        "Review, next action": "",
        "Code": "wf-p001",
    }
    # left to right as read: the code to paste before the free text that may be cut
    assert list(row) == ["School", "Code", "Returned", "Review, next action"]


def test_mail_refused_for_good_is_shown_with_who_what_the_answer_and_since_when():
    from govcal.flows.dashboard import Undelivered

    board = Dashboard("wfscp", "WFSCP", TODAY)
    board.items = [item("Papers", "2026-11-30", State.DUE_SOON)]
    assert "could not be delivered" not in board.markdown()  # nothing refused: no section
    board.undelivered = [
        Undelivered(
            "Jo Bloggs, Partnership Manager",
            "Circulate the papers (reminder)",
            "550 5.1.1 <jo@example.org>: mailbox unknown",
            datetime.fromisoformat("2026-11-20T08:05:00+00:00"),
        )
    ]
    text = board.markdown()
    assert "## Mail that could not be delivered (1)" in text
    assert (  # as markdown shows it: the relay's <address> is text, not a tag or a link
        "- Jo Bloggs, Partnership Manager: Circulate the papers (reminder); the relay "
        'answered "550 5.1.1 &lt;jo\\@example.org&gt;: mailbox unknown" (since 20/11/2026 '
        "08:05 UTC)"
    ) in text


def test_the_summary_lists_this_partnerships_refused_mail_from_the_ledger():
    """Real SQLite, real sync and import: a refused reminder of wfscp appears under the
    person's name and role; another partnership's refusal and an old one do not."""
    from typer.testing import CliRunner

    from govcal.cli import app
    from govcal.flows.dashboard import build
    from govcal.models.db import session_scope
    from govcal.models.ledger import Delivery, LedgerEntry
    from govcal.models.queries import occurrence
    from govcal.models.settings import get_settings
    from govcal.rules.loader import load_partnerships
    from tests.support.paths import SAMPLE_DIRECTORY

    runner = CliRunner()
    for args in (
        ["sync", "--as-of", "2026-11-24"],
        ["sync", "--as-of", "2023-06-01", "-p", "cscp-2023"],
        ["import", str(SAMPLE_DIRECTORY / "wfscp")],
    ):
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.stderr
    with session_scope(get_settings()) as session:
        mine = occurrence(session, "wfscp:lsp-meeting:2026-11-11")
        theirs = session.exec(
            select(OccurrenceRow).where(OccurrenceRow.partnership_id != "wfscp")
        ).first()
        for occ, recipient, claimed in (
            (mine, "lsp-wfc@example.org", "2026-11-20T08:05:00+00:00"),
            (mine, "lsp-cumbria-police@example.org", "2026-09-01T08:05:00+00:00"),  # old
            (theirs, "lsp-wfc@example.org", "2026-11-21T08:05:00+00:00"),
        ):
            session.add(
                LedgerEntry(
                    occurrence_id=occ.id,
                    stage="reminder-7",
                    recipient=recipient,
                    kind="reminder",
                    status=Delivery.FAILED.value,
                    last_error="550 5.1.1 mailbox unknown",
                    claimed_at=datetime.fromisoformat(claimed),
                )
            )
    wfscp = next(p for p in load_partnerships() if p.id == "wfscp")
    with session_scope(get_settings()) as session:
        board = build(session, wfscp, TODAY)
    [refused] = board.undelivered
    assert refused.who.startswith("Chief Executive, Westmorland and Furness Council")
    assert refused.what == f"{mine.title} (reminder)"
    assert refused.answer == "550 5.1.1 mailbox unknown"
    assert refused.since == datetime.fromisoformat("2026-11-20T08:05:00+00:00")
    assert "## Mail that could not be delivered (1)" in board.markdown()


def test_boards_built_together_are_the_boards_built_one_at_a_time():
    """Real SQLite, real import and sync: the daily job builds every partnership's board
    from one read of each kind of data; each board is the one its partnership gets alone,
    its items, returns tables and refused mail (another partnership's stays off it)."""
    from typer.testing import CliRunner

    from govcal.cli import app
    from govcal.flows.dashboard import build, build_all
    from govcal.models.db import session_scope
    from govcal.models.ledger import Delivery, LedgerEntry
    from govcal.models.queries import occurrence
    from govcal.models.settings import get_settings
    from govcal.rules.loader import load_partnerships
    from tests.support.paths import SAMPLE_DIRECTORY

    runner = CliRunner()
    for args in (
        ["import", str(SAMPLE_DIRECTORY / "wfscp")],
        ["sync", "--as-of", "2026-11-24"],
        ["sync", "--as-of", "2023-06-01", "-p", "cscp-2023"],
    ):
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.stderr
    with session_scope(get_settings()) as session:
        mine = occurrence(session, "wfscp:lsp-meeting:2026-11-11")
        theirs = session.exec(
            select(OccurrenceRow).where(OccurrenceRow.partnership_id != "wfscp")
        ).first()
        for occ, recipient in ((mine, "lsp-wfc@example.org"), (theirs, "x@example.org")):
            session.add(
                LedgerEntry(
                    occurrence_id=occ.id,
                    stage="reminder-7",
                    recipient=recipient,
                    kind="reminder",
                    status=Delivery.FAILED.value,
                    last_error="550 5.1.1 mailbox unknown",
                    claimed_at=datetime.fromisoformat("2026-11-20T08:05:00+00:00"),
                )
            )
    partnerships = load_partnerships()
    assert len(partnerships) >= 2

    def seen(board):
        cycles = [(c.describe(), c.rows) for c in board.cycles]
        return board.markdown(), board.table(), dict(board.counts), cycles, board.undelivered

    with session_scope(get_settings()) as session:
        together = build_all(session, partnerships, TODAY)
        alone = [build(session, p, TODAY) for p in partnerships]
    assert [b.partnership for b in together] == [p.id for p in partnerships]
    assert [seen(b) for b in together] == [seen(b) for b in alone]
    wfscp = together[[p.id for p in partnerships].index("wfscp")]
    assert wfscp.items and wfscp.cycles and any(c.rows for c in wfscp.cycles)
    assert len(wfscp.undelivered) == 1


def test_names_holding_markdown_reach_the_cockpit_as_text_never_as_links_or_images(tmp_path):
    """Names imported with `![x](url)` (every viewer's browser fetched the image) and
    `[Click to acknowledge](url)` (a live link in the summary): every artifact as posted
    (summary, tables, descriptions), rendered by a CommonMark renderer with tables, holds
    no image and no link, and shows the name as typed."""
    import shutil

    from markdown_it import MarkdownIt
    from typer.testing import CliRunner

    from govcal.cli import app
    from govcal.flows.dashboard import build
    from govcal.flows.publish import as_posted, board_artifacts
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from govcal.rules.loader import load_partnerships
    from govcal.rules.text import INVISIBLE
    from tests.support.paths import SAMPLE_DIRECTORY

    folder = tmp_path / "wfscp"
    shutil.copytree(SAMPLE_DIRECTORY / "wfscp", folder)
    image, link = "![x](https://evil.example/p.png)", "[Go](x.il)"
    for name, old, new in (  # a table cell cuts a long name: short payloads, the link first
        ("people.csv", "Partnership Manager (sample)", f"Partnership Manager {image}"),
        ("agencies.csv", "Cumbria Constabulary", f"{link} Cumbria Constabulary"),
        ("schools.csv", "Barrow Sample Nursery School 2", f"<img src=x> {link}"),
    ):
        path = folder / name
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    runner = CliRunner()
    for args in (["import", str(folder)], ["sync", "--as-of", "2026-11-24"]):
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.stderr
    wfscp = next(p for p in load_partnerships() if p.id == "wfscp")
    with session_scope(get_settings()) as session:
        board = build(session, wfscp, TODAY)
    posted = as_posted(board_artifacts(board, TODAY, None))
    render = MarkdownIt("commonmark").enable("table").render
    pages = []
    for artifact in posted:
        pages.append(render(artifact["description"] or ""))
        if artifact["type"] == "markdown":
            pages.append(render(artifact["data"]))
        else:  # the UI renders each text cell of a table as markdown
            pages += [render(v) for row in json.loads(artifact["data"]) for v in row.values()]
    html = "\n".join(pages).replace(INVISIBLE, "")  # put in a table cell where V1 would act
    assert "<img" not in html and "<a " not in html and "evil.example" in html
    assert "[Go](x.il)" in html and "&lt;img src=x&gt;" in html
    assert "Manager ![x](https:" in html
