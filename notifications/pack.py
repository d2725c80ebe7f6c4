"""Render an evidence pack: markdown (a Prefect artifact), one self-contained HTML file
and a CSV of every item (for a spreadsheet).

The HTML carries its own CSS and nothing external (no fonts, scripts or images), so it
prints and attaches to the annual report as it is, and opens years later the same.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

from dateutil.relativedelta import relativedelta
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session

from govcal.models.evidence_pack import attendance_rows, pack_source
from govcal.models.private import private_folder, write_private
from govcal.rules.dates import EARLIEST, LATEST
from govcal.rules.errors import Refused
from govcal.rules.pack import (
    Attendance,
    Outcome,
    PackFigures,
    PackItem,
    attendance,
    figures,
    percent,
)
from govcal.rules.text import markdown_text, shown

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html.j2"], default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["percent"] = percent
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def markdown_cell(value: object) -> str:
    """Text safe in a markdown table cell (rules.text.markdown_text: one line, no raw HTML,
    `|` kept inside, no link or image). Older records may hold what today's checks refuse."""
    return markdown_text(value)


def markdown_link(value: object) -> str:
    """A link target that cannot end the link, the cell or the line early."""
    return quote(_CONTROL.sub("", str(value)), safe=":/?#[]@!$&'*+,;=%~._-")


_env.filters["md"] = markdown_cell
_env.filters["md_link"] = markdown_link


class PackError(Refused):
    """The pack cannot be drawn up as asked; the message says what to give instead."""


@dataclass(frozen=True)
class Pack:
    """Everything a pack shows, ready to render."""

    partnership: str
    partnership_name: str
    period: str  # "2025" or "2025/26"
    start: date
    end: date
    as_of: date
    figures: PackFigures
    items: list[PackItem]  # every item, oldest first
    attendance: Attendance | None = None  # who was at the meetings, as recorded

    @property
    def obligations(self) -> list[PackItem]:
        """Everything but the individual audit returns (those are listed per cycle)."""
        return [i for i in self.items if i.cycle is None]

    def returns_of(self, cycle: str) -> list[PackItem]:
        return sorted((i for i in self.items if i.cycle == cycle), key=lambda i: i.subject_name)

    def outcome(self, item: PackItem) -> str:
        outcome = item.outcome(self.as_of)
        days = item.days_late(self.as_of)
        if outcome is Outcome.LATE:
            return f"late ({days} day{'s' if days != 1 else ''})"
        if outcome is Outcome.MISSED:
            return f"missed ({days} day{'s' if days != 1 else ''} overdue)"
        return outcome.value

    def css(self, item: PackItem) -> str:
        return item.outcome(self.as_of).name.lower().replace("_", "-")

    @staticmethod
    def escalation_text(item: PackItem) -> str:
        return ", ".join(f"day {d}" for d in item.escalations)

    @property
    def stem(self) -> str:
        return f"evidence-pack-{self.partnership}-{self.period.replace('/', '-')}"


def render_markdown(pack: Pack) -> str:
    return _env.get_template("pack.md.j2").render(pack=pack, Outcome=Outcome)


def render_html(pack: Pack) -> str:
    return _env.get_template("pack.html.j2").render(pack=pack, Outcome=Outcome)


CSV_COLUMNS = (
    "Id",
    "Item",
    "Kind",
    "Cycle",
    "Agency or school",
    "Owner",
    "Due",
    "Outcome",
    "Done on",
    "Done by",
    "Evidence",
    "Reason",
    "Review (RAG)",
    "Escalations",
)


def spreadsheet_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: on one line (`shown`), and a value that
    begins like a formula (=, +, -, @, a tab) prefixed with an apostrophe, as OWASP
    advises, so opening the pack never runs anything."""
    text = shown("" if value is None else str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t") else text


def render_csv(pack: Pack) -> str:
    """Every item of the pack, one row each, oldest first: for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in pack.items:
        done = item.completed_on.isoformat() if item.completed_on else ""
        row = (
            item.id,
            item.title,
            item.kind,
            item.cycle or "",
            item.subject_name,
            item.owner,
            item.due.isoformat(),
            pack.outcome(item),
            done,
            item.completed_by or "",
            item.evidence or "",
            item.reason or "",
            item.rag or "",
            pack.escalation_text(item),
        )
        writer.writerow(spreadsheet_cell(v) for v in row)
    return out.getvalue()


def period(year: int, start_month: int = 1) -> tuple[date, date, str]:
    """The reporting year: a calendar year, or e.g. April to March ("2025/26")."""
    if not EARLIEST.year <= year < LATEST.year or not 1 <= start_month <= 12:
        raise PackError(
            f"year {year} from month {start_month} is not a reporting year govcal keeps: give "
            f"a year from {EARLIEST.year} to {LATEST.year - 1} and a month from 1 to 12"
        )
    start = date(year, start_month, 1)
    end = start + relativedelta(years=1) - relativedelta(days=1)
    label = str(year) if start_month == 1 else f"{year}/{(year + 1) % 100:02d}"
    return start, end, label


def build_pack(
    session: Session, partnership_id: str, year: int, as_of: date, *, start_month: int = 1
) -> Pack:
    """The evidence pack of one partnership for one reporting year, as recorded on `as_of`."""
    start, end, label = period(year, start_month)
    source = pack_source(session, partnership_id, start, end)
    return Pack(
        partnership=partnership_id,
        partnership_name=source.partnership_name,
        period=label,
        start=start,
        end=end,
        as_of=as_of,
        figures=figures(source.items, as_of, source.cycle_titles),
        items=source.items,
        attendance=attendance(attendance_rows(session, partnership_id, start, end)),
    )


def write_pack(pack: Pack, folder: Path) -> tuple[Path, Path, Path]:
    """Write the markdown, the HTML and the CSV pack; returns their paths."""
    private_folder(folder)
    markdown = folder / f"{pack.stem}.md"
    html = folder / f"{pack.stem}.html"
    table = folder / f"{pack.stem}.csv"
    write_private(markdown, render_markdown(pack).encode("utf-8"))
    write_private(html, render_html(pack).encode("utf-8"))
    write_private(table, render_csv(pack).encode("utf-8"))
    return markdown, html, table
