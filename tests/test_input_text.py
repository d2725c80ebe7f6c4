"""Typed and imported text: control characters, direction overrides and huge values are
refused in one line naming the field, before anything changes (findings 3 and 11)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from govcal.rules.text import TextRefused, check_cell, check_text

runner = CliRunner()
MEETING = "wfscp:lsp-meeting:2026-11-11"
TESTERS_LINK = "https://example.org/a\r\nBcc: victim@evil.org\r\n\r\n<script>x</script>"


def govcal(*args: str):
    from govcal.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def synced(migrated_data):
    result = govcal("sync", "--as-of", "2026-11-24", "-p", "wfscp")
    assert result.exit_code == 0, result.stderr


def meeting() -> tuple[str, str | None, str | None]:
    from govcal.models.db import session_scope
    from govcal.models.queries import occurrence
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        row = occurrence(session, MEETING)
        return row.lifecycle, row.evidence_url, row.completed_by


@pytest.mark.parametrize(
    "bad", ["a\x00b", "a\x1b]0;pwn\x07", "a\rb", "a\nb", "a\x7f", "a\x85", "a\u202eb", "a\u2066b"]
)
def test_control_characters_and_direction_overrides_are_refused(bad):
    with pytest.raises(TextRefused, match="--by contains a control character"):
        check_text(bad, "--by")


@pytest.mark.parametrize("formula", ["=cmd|' /C calc'!A0", "+SUM(A1)", "@SUM(A1)", "-2+3!A"])
def test_a_spreadsheet_formula_in_a_csv_cell_is_refused(formula):
    with pytest.raises(TextRefused, match="spreadsheet formula"):
        check_cell(formula, "name")
    check_cell("Anne-Marie O'Neil", "name")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--evidence", TESTERS_LINK], "--evidence contains a control character"),
        (["--evidence", "https://example.org/" + "a" * 100_000], "--evidence is 100,020"),
        (
            ["--evidence", "https://example.org/m", "--by", "Eve\x1b]0;pwn\x07"],
            "GOVCAL_ACTOR (who is acting) contains",
        ),
        (
            ["--evidence", "https://example.org/m", "--by", "\u202e" * 12_000],
            "GOVCAL_ACTOR (who is acting) is 12,000",
        ),
        (["--evidence", "https://example.org/m", "--note", "x\ny"], "--note contains"),
    ],
)
def test_complete_refuses_bad_text_in_one_line_and_changes_nothing(synced, args, says):
    result = govcal("complete", MEETING, "--on", "2026-11-11", *args)
    assert result.exit_code == 1
    first, *rest = result.stderr.strip().splitlines()
    assert says in first and rest == ["Nothing was changed."]
    assert len(result.stderr) < 400  # the value is never echoed back
    assert meeting()[0] != "completed"


def test_the_actor_from_the_environment_is_checked_too(synced, monkeypatch):
    from govcal.models.settings import SettingsError, get_settings

    monkeypatch.setenv("GOVCAL_ACTOR", "Eve\x1b[2J")
    get_settings.cache_clear()
    # a setting: refused when settings load, before any command (main() exits 2)
    with pytest.raises(SettingsError) as refused:
        govcal("waive", MEETING, "--reason", "not needed this year")
    assert refused.value.lines == [
        "GOVCAL_ACTOR contains a line break or control character; write it on one line of "
        "plain text"
    ]
    monkeypatch.delenv("GOVCAL_ACTOR")
    get_settings.cache_clear()
    assert meeting()[0] != "waived"


def test_a_huge_id_is_not_a_valid_id(synced):
    result = govcal("waive", "x" * 100_000, "--reason", "r")
    assert result.exit_code == 1
    assert "not a valid id" in result.stderr and "LIKE" not in result.stderr
    assert len(result.stderr) < 400


@pytest.mark.parametrize(
    ("option", "value"), [("--reason", "late\r\nBcc: x"), ("--location", "Room\x00 1")]
)
def test_reschedule_refuses_control_characters(synced, option, value):
    args = ["--reason", "room clash", option, value] if option == "--location" else [option, value]
    result = govcal("reschedule", MEETING, "--to", "2026-11-12 10:00", *args)
    assert result.exit_code == 1 and f"{option} contains" in result.stderr


def test_an_imported_name_with_nul_or_a_formula_is_refused_by_line(tmp_path):
    people = tmp_path / "people.csv"
    people.write_text(
        "name,email,role\n"
        "NUL\x00x Evil,evil@example.org,business-team\n"
        "=cmd|' /C calc'!A0,calc@example.org,business-team\n"
        "Ann Lee,ann@example.org,business-team\n",
        encoding="utf-8",
    )
    result = govcal("import", str(people), "-p", "wfscp")
    out = result.stdout + result.stderr
    assert f"{people}:2: name contains a control character" in out
    assert f"{people}:3: name starts like a spreadsheet formula" in out


def test_the_markdown_pack_keeps_an_old_evidence_link_in_its_cell():
    from govcal.notifications.pack import markdown_cell, markdown_link

    link = markdown_link(TESTERS_LINK)
    assert "\n" not in link and "\r" not in link and "<" not in link and "|" not in link
    assert ")" not in link and " " not in link
    assert markdown_cell("a|b\n<script>x</script>") == "a\\|b &lt;script&gt;x&lt;/script&gt;"


@pytest.mark.parametrize("pasted", [f"Id: {MEETING}.", f'"{MEETING}"', f"`{MEETING}`"])
def test_an_id_pasted_from_an_email_works_on_the_command_line(synced, pasted):
    """Finding 14a: README says "Id:" and a trailing full stop are ignored."""
    result = govcal("complete", pasted, "--on", "2026-11-11", "--evidence", "https://example.org/m")
    assert result.exit_code == 0, result.stderr
    assert f"({MEETING}) completed on 2026-11-11" in result.stdout
    assert meeting()[0] == "completed"


HIDDEN = "\u202e\u2066\x1b\x07"  # a direction override, an isolate, ESC, BEL


def test_names_stored_before_the_check_are_shown_plain(tmp_path, wfscp, migrated_copy):
    """People's and agencies' names written before the text check existed (here straight
    into the database) reach emails, invites, feeds and the dashboard without a control
    character or direction override, and still read as the name."""
    from datetime import UTC, date, datetime

    from sqlmodel import select

    from govcal.flows.dashboard import build
    from govcal.flows.steps import notify, publish_feeds
    from govcal.models.db import session_scope
    from govcal.models.directory import Agency
    from govcal.models.directory_import import import_directory
    from govcal.models.people import Person
    from govcal.models.settings import get_settings
    from govcal.models.sync import sync_partnership
    from govcal.notifications.render import Sender
    from govcal.notifications.transport import FileOutbox
    from tests.support.paths import SAMPLE_DIRECTORY

    day = date(2026, 10, 6)
    url = migrated_copy(tmp_path / "old-names.db")
    with session_scope(url) as session:
        import_directory(session, SAMPLE_DIRECTORY / "wfscp", wfscp)
        for row in [*session.exec(select(Person)), *session.exec(select(Agency))]:
            row.name = f"{row.name}{HIDDEN[:2]}\x1b[31m{HIDDEN[3]}\r\nBcc: victim@example.org"
            session.add(row)
        sync_partnership(session, wfscp, day)
    with session_scope(url) as session:
        notify(
            session,
            [wfscp],
            day,
            FileOutbox(tmp_path / "outbox"),
            Sender("g", "g@example.org"),
            now=datetime(2026, 10, 6, 12, tzinfo=UTC),
            settings=get_settings(),
        )
        publish_feeds(session, [wfscp], day, tmp_path / "feeds")
        board = build(session, wfscp, day).markdown()
    emails = sorted((tmp_path / "outbox").glob("*.eml"))
    feeds = sorted((tmp_path / "feeds").rglob("*.ics"))
    assert emails and feeds
    shown = {
        **{path.name: _readable(path.read_bytes()) for path in emails},
        **{path.name: path.read_text(encoding="utf-8") for path in feeds},
        "dashboard": board,
    }
    for where, text in shown.items():
        assert not any(c in text for c in HIDDEN), where
        assert "\nBcc: victim" not in text.replace("\r\n", "\n"), where
    assert any("Bcc: victim@example.org" in t for t in shown.values())  # the name, on one line


def _readable(data: bytes) -> str:
    """Every header and text part of an email as its reader's program decodes them."""
    from email import message_from_bytes, policy

    message = message_from_bytes(data, policy=policy.default)
    parts = [f"{key}: {value}" for key, value in message.items()]
    parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(parts)


@pytest.mark.parametrize(
    "typed",
    [
        "Harrogate & District",
        "A &amp; B",
        "<b>x</b> [y](http://e.x) *z*",
        "![i](https://e.x/p.png)",
        "co_x _u_ ~~d~~ \\*w\\*",
        "- x",
        "# 1",
        "www.e.x a@b.cd",
        "[y]: https://e.x",
        "x < y > z",
    ],
)
def test_a_table_cell_reads_as_typed_with_no_link_image_or_tag(typed):
    """Prefect's V2 UI shows a table cell as text: no escape may show (`&amp;`, `\\*`);
    V1 renders it as markdown: nothing in it may become a link, an image or an HTML tag.
    What V1 does with each cell is checked in Chromium (test_cockpit_browser.py)."""
    from markdown_it import MarkdownIt

    from govcal.rules.text import INVISIBLE, table_cell

    cell = table_cell(typed)
    assert cell.replace(INVISIBLE, "") == typed
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(cell)
    assert not any(tag in html for tag in ("<a ", "<img", "<b>", "<h1", "<ul", "<li"))


def test_a_table_cell_leaves_plain_names_alone():
    from govcal.rules.text import table_cell

    for typed in ("Harrogate & District", "St Mary's (C of E) School", "wfscp:co_x:2026-11-11"):
        assert table_cell(typed) == typed
