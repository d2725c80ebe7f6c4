"""The cockpit as data: what a partnership manager reads first, shaped from the database.

`build` gathers everything in a handful of queries; the rest of the module is pure
shaping of rows (sections, owners, tables), tested without Prefect. The flows publish
the result as a few artifacts per partnership with stable keys (the UI shows the latest):
a summary, the open items, and one table per audit rule for the cycle that matters now.
No child-identifying data can appear: rows carry titles, dates, names of office holders
and references.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from sqlmodel import Session

from govcal.flows import failing_board, meetings_board
from govcal.flows.collector import paused
from govcal.models import escalations, ledger, queries
from govcal.models.audits import FollowUpAction
from govcal.models.escalations import Escalation
from govcal.models.notify_inputs import directory as load_directory
from govcal.models.status import StatusRow, counts_line, in_status_window, status_rows
from govcal.models.trail import TrailEntry, changes_since
from govcal.rules.ladder import flag_step
from govcal.rules.model import DEFAULT_LADDER, Ladder, Partnership, Per, Rule
from govcal.rules.notify_plan import Directory, event_reference
from govcal.rules.state import State
from govcal.rules.text import markdown_code as code
from govcal.rules.text import markdown_text as md
from govcal.rules.text import table_cell as cell

DEFAULT_SOON_DAYS = 14  # a partnership's due_soon_days unless its file says otherwise
ACK_WAIT_DAYS = 7  # an escalation unanswered this long shows as "no response"
FAILED_DAYS = 30  # mail refused for good in the last 30 days stays on the summary
SHOWN = 8  # lines per section in the summary; the open-items table has them all
MISSING_SHOWN = 3  # a round names this many missing agencies or schools, then the count
CHANGES_DAYS = 14  # the audit trail's changes shown: the last two weeks
# The open-items table at 1440 px beside V2's details panel has 742 px (V1: 884) and its
# cells never wrap: the id whole, the due day with its RAG mark and a short owner take
# what they need, and the title has what is left of TABLE_CHARS characters (about 7 px
# each). Measured by the browser test; bench/README.md gives the figures.
TABLE_CHARS = 73
TITLE_CHARS = (16, 40)  # the fewest and most a cut title keeps
OWNER_CHARS = 11

MARK = {"Red": "🔴", "Amber": "🟠", "Green": "🟢"}
REVIEW_MARK = {"red": "🔴 Red", "amber": "🟠 Amber", "green": "🟢 Green"}

SECTIONS = {
    "clocks": "Statutory clocks running",
    "soon": "Due in the next {soon} days",
    "overdue": "Overdue, by owner",
    "escalated": "Escalated to the Lead Partners",
    "decision": "Needs a decision{after}",
}


def _flag_day(ladder: Ladder) -> int | None:
    step = flag_step(ladder)
    return step.day if step is not None else None


DEFAULT_DECISION_DAYS = _flag_day(DEFAULT_LADDER)


def titled(title: str, public_id: str) -> str:
    """An item's title as every view gives it: an incident's clock carries its reference
    (two incidents' clocks are otherwise the same line), as the emails do."""
    ref = event_reference(public_id)
    return f"{title} — {ref}" if ref else title


@lru_cache(maxsize=4096)
def day(d: date) -> str:
    """A date as people in England write it: 27 Nov 2026. Cached: the national boards
    write 25,000 dates, most of them the same few hundred days."""
    return f"{d.day} {d:%b %Y}"


@lru_cache(maxsize=4096)
def short_day(d: date) -> str:
    """A day in a table cell, where the year is the cycle's or this one's: 27 Nov."""
    return f"{d.day} {d:%b}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class Item:
    """One line of the cockpit: an open occurrence, or an audit cycle's open returns."""

    title: str
    due: date
    owner: str
    state: State
    days_left: int  # negative once overdue
    public_id: str
    clock: bool = False  # a statutory clock started by an incident
    escalation: Escalation | None = None
    flagged: bool = False  # the scrutineer flag was raised: consider referral
    owner_short: str = ""  # the CSV's owner: the name and the agency's code
    lead: str = ""  # the table's owner: a short name ("J. Bloggs"), or a round's count
    done_when: str = ""  # what completes it: the rule's evidence
    missing: tuple[str, ...] = ()  # a round: the first few not returned, "Agency (lead)"
    missing_count: int = 0  # a round: how many have not returned
    soon_days: int = DEFAULT_SOON_DAYS  # the partnership's due_soon_days
    decision_days: int | None = DEFAULT_DECISION_DAYS  # the ladder's flag day (None: none)

    @property
    def rag(self) -> str:
        return self.state.rag

    @property
    def days_overdue(self) -> int:
        return max(-self.days_left, 0)

    def section(self) -> str | None:
        """Which one section of the summary the item belongs to (never two)."""
        if self.clock:
            return "clocks"
        if self.state is State.OVERDUE:
            late = self.decision_days is not None and self.days_overdue >= self.decision_days
            if self.flagged or late:
                return "decision"
            return "escalated" if self.escalation else "overdue"
        return "soon" if self.days_left <= self.soon_days else None

    def when(self) -> str:
        if self.days_left < 0:
            return f"overdue by {plural(-self.days_left, 'day')}"
        if self.days_left == 0:
            return "due today"
        return f"{plural(self.days_left, 'day')} left"

    def response(self, as_of: date) -> str:
        """The Lead Partners' answer to an escalation, as the summary shows it."""
        esc = self.escalation
        if esc is None:
            return ""
        if esc.acknowledged_at is not None:
            said = f"acknowledged by {md(esc.acknowledged_by)} on {day(esc.acknowledged_at.date())}"
            return f"{said}, by email link" if esc.channel == "email-link" else said
        waited = (as_of - esc.escalated_at.date()).days
        if waited >= ACK_WAIT_DAYS:
            return f"**no response** after {plural(waited, 'day')}"
        return f"escalated {day(esc.escalated_at.date())}, awaiting a response"

    def urgency(self) -> tuple[int, int, str]:
        """The table's order: the summary's concerns, most actionable first. Clocks,
        then overdue items the owner can still put right, escalations, what is due soon,
        items for a decision (most recent first) and the rest by date."""
        rank = {"clocks": 0, "overdue": 1, "escalated": 2, "soon": 3, "decision": 4}
        section = self.section()
        key = -self.days_left if section == "decision" else self.days_left
        return (rank.get(section or "", 5), key, self.title)

    def when_short(self) -> str:
        if self.days_left < 0:
            return f"{plural(-self.days_left, 'day')} late"
        return "due today" if self.days_left == 0 else f"{plural(self.days_left, 'day')} left"

    def stands(self, as_of: date) -> str:
        """The "where it stands" cell, kept short: state, the Lead Partners' answer."""
        parts = [self.when_short()]
        esc = self.escalation
        if esc is not None and esc.acknowledged_at is not None:
            parts.append(f"acknowledged {esc.acknowledged_at:%d %b}")
        elif esc is not None:
            waited = (as_of - esc.escalated_at.date()).days
            parts.append("LSPs: no reply" if waited >= ACK_WAIT_DAYS else "LSPs told")
        if self.section() == "decision":
            parts.append("decide")
        return "; ".join(parts)

    def missing_text(self) -> str:
        """A round's missing members, a few by name with their leads, then the count."""
        more = self.missing_count - len(self.missing)
        named = "; ".join(self.missing)
        return f"{named} and {more} more" if more > 0 else named

    def line(self, as_of: date, *, owner: bool = True) -> str:
        parts = [f"{MARK[self.rag]} **{md(self.title)}**", f"due {day(self.due)}", self.when()]
        if self.missing:
            parts.append(f"not yet returned: {md(self.missing_text())}")
        elif owner:
            parts.append(md(self.owner))
        if self.escalation:
            parts.append(self.response(as_of))
        if self.done_when:
            parts.append(f"done when: {md(_lower_first(self.done_when))}")
        return "- " + " · ".join(parts) + f" · `{code(self.public_id)}`"

    def cells(self, as_of: date) -> dict[str, str]:
        """The open-items table's row as plain text (the CSV's; `table_row` is the table's)."""
        return {
            "What": self.title,
            "Due": day(self.due),
            "Owner": self.owner_short or self.owner,
            "Where it stands": f"{MARK[self.rag]} {self.stands(as_of)}",
            "Id": self.public_id,
        }

    def table_row(self, title_width: int) -> dict[str, str]:
        """Four narrow columns, so that the whole id is on screen at 1440 px in both of
        Prefect's UIs (see TABLE_CHARS): the title cut to `title_width`, the due day in
        short form after its RAG colour, the owner's short name, the id (an incident's
        carries its reference). The whole title, the owner's full name and where the item
        stands are in the summary and in this table's CSV."""
        return {
            "What": cell(clip(self.title, title_width)),
            "Due": f"{MARK[self.rag]} {short_day(self.due)}",
            "Owner": cell(self.lead or short_name(self.owner)),
            "Id": cell(self.public_id),
        }


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def shorten(text: str, width: int) -> str:
    """Cut at a word boundary with an ellipsis: table cells never wrap in Prefect's UI."""
    if len(text) <= width:
        return text
    head = text[: width - 1]
    if text[width - 1] != " ":  # the last word is cut: drop it
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,:;(") + "…"


def short_name(name: str, width: int = OWNER_CHARS) -> str:
    """A person's name for a narrow cell: whole if it fits, else the initial and the
    surname ("Joanna Bloggs-Smith" -> "J. Bloggs-Smith"). A name that is an office
    ("Children's Social Care duty service") is cut at a word instead; a trailing
    "(sample)" and anything after a comma (the agency) are left to the full name."""
    core = re.sub(r"\s*\([^()]*\)$", "", name).split(",")[0].strip() or name
    if len(core) <= width:
        return core
    words = core.split()
    if len(words) > 1 and all(w[:1].isupper() for w in words):
        core = f"{words[0][0]}. {words[-1]}"
        # a surname whole beats two letters saved
        return core if len(core) <= width + 2 else core[: width + 1] + "…"
    return clip(core, width)


def clip(text: str, width: int) -> str:
    """Cut at a word boundary, unless that keeps less than two thirds of `width`: then
    within the word ("Joint Lead Safeguardi…" says more than "Joint Lead…")."""
    at_word = shorten(text, width)
    if len(text) <= width or len(at_word) * 3 >= width * 2:
        return at_word
    return text[: width - 1].rstrip() + "…"


def shorten_name(text: str, width: int) -> str:
    """A name cut in its middle, its last word kept: "Kirkby Sample Primary… 35" and
    "Kirkby Sample Primary… 21" stay two schools."""
    head, _, tail = text.rpartition(" ")
    if len(text) <= width or not head or len(tail) > width // 3:
        return shorten(text, width)
    return f"{shorten(head, width - len(tail) - 1)} {tail}"


@dataclass
class CycleTable:
    """One audit cycle, agency by agency or school by school."""

    rule_id: str
    public_id: str
    title: str
    due: date
    noun: str  # agencies or schools
    returned: int
    total: int
    rows: list[dict[str, str]] = field(default_factory=list)  # as the table shows them
    cells: list[dict[str, str]] = field(default_factory=list)  # the same, plain text (CSV)

    def describe(self) -> str:
        return (
            f"{md(self.title)}, returns due {day(self.due)}: {self.returned} of "
            f"{self.total} {self.noun} returned"
        )


@dataclass(frozen=True)
class Undelivered:
    """A message the relay refused for good: nobody will get it unless a person acts."""

    who: str  # the recipient as a manager knows them: name, role
    what: str  # the obligation and the kind of message
    answer: str  # the relay's answer, as it gave it
    since: datetime  # when it was refused

    def line(self) -> str:
        return (
            f"- {md(self.who)}: {md(self.what)}; the relay answered "
            f'"{md(shorten(self.answer, 120))}" '
            f"(since {self.since:%d/%m/%Y %H:%M} UTC)"
        )


@dataclass(frozen=True)
class Done:
    """An item closed recently: what, when, by whom, and its evidence."""

    title: str
    on: date
    how: str  # completed, completed late, waived, cancelled
    who: str
    evidence: str  # a link or a file name, as recorded ("" if none)
    public_id: str

    def line(self) -> str:
        parts = [f"**{md(self.title)}**", f"{self.how} {day(self.on)}"]
        if self.who:
            parts.append(f"by {md(self.who)}")
        if self.evidence:
            parts.append(evidence_link(self.evidence))
        return "- " + " · ".join(parts) + f" · `{code(self.public_id)}`"


_LINK = re.compile(r"https?://[^\s<>()\[\]\\`'\"]+", re.IGNORECASE)


def evidence_link(evidence: str) -> str:
    """A web address as a link a reader can open; anything else (a file's name) as text.
    Only http(s) addresses with nothing markdown acts on become links."""
    if _LINK.fullmatch(evidence):
        return f"[evidence](<{evidence}>)"
    return f"evidence: {md(evidence)}"


@dataclass(frozen=True)
class Change:
    """One entry of the audit trail, as the summary lists it."""

    at: datetime
    actor: str
    channel: str
    action: str
    what: str  # the item's title, or the entity
    entity_id: str

    def line(self) -> str:
        return (
            f"- {day(self.at.date())} {self.at:%H:%M} UTC · {md(self.actor)} "
            f"({md(self.channel)}) · {md(self.action)} · {md(self.what)} "
            f"`{code(self.entity_id)}`"
        )


@dataclass
class Dashboard:
    partnership: str
    name: str
    as_of: date
    items: list[Item] = field(default_factory=list)
    soon_days: int = DEFAULT_SOON_DAYS  # the partnership's due_soon_days
    decision_days: int | None = DEFAULT_DECISION_DAYS  # its ladder's flag day
    flagged_for: str = "the Independent Scrutineer"  # who the ladder's flag is raised for
    headline: str = ""  # the counts as `govcal status` gives them
    done: list[Done] = field(default_factory=list)  # closed in the status window, newest first
    changes: list[Change] = field(default_factory=list)  # the audit trail, newest first
    changes_total: int = 0  # how many changes the trail holds for the period
    downloads: list[tuple[str, str]] = field(default_factory=list)  # (label, CSV address)
    counts: Counter[str] = field(default_factory=Counter)
    cycles: list[CycleTable] = field(default_factory=list)
    undelivered: list[Undelivered] = field(default_factory=list)
    rule_problems: list[str] = field(default_factory=list)  # its rule file, if broken
    meetings: list[str] = field(default_factory=list)  # flows/meetings_board.py
    failing: list[str] = field(default_factory=list)  # flows/failing_board.py

    def sections(self) -> dict[str, list[Item]]:
        found: dict[str, list[Item]] = {key: [] for key in SECTIONS}
        for item in sorted(self.items, key=Item.urgency):
            key = item.section()
            if key:
                found[key].append(item)
        return found

    def table(self) -> list[dict[str, str]]:
        """Every open item, most urgent first: the open-items table. The titles are cut to
        what the longest id leaves (see TABLE_CHARS)."""
        longest = max((len(i.public_id) for i in self.items), default=0)
        low, high = TITLE_CHARS
        width = min(max(TABLE_CHARS - longest, low), high)
        return [i.table_row(width) for i in sorted(self.items, key=Item.urgency)]

    def _none_here(self, key: str, sections: dict[str, list[Item]]) -> str:
        """An empty overdue section says where the overdue items are, so that "Overdue,
        by owner (0)" under a headline of "7 overdue" does not read as none overdue."""
        if key not in ("overdue", "escalated"):
            return "Nothing."
        elsewhere = {
            k: sum(1 for i in v if i.state is State.OVERDUE)
            for k, v in sections.items()
            if k != key
        }
        late = sum(elsewhere.values())
        if not late:
            return "Nothing."
        under = " and ".join(f"*{self.heading(k)}*" for k, n in elsewhere.items() if n)
        verb = "is" if late == 1 else "are"
        return f"None here: the {plural(late, 'overdue item')} {verb} under {under}."

    def heading(self, key: str) -> str:
        after = f" ({self.decision_days}+ days overdue)" if self.decision_days else ""
        return SECTIONS[key].format(soon=self.soon_days, after=after)

    def markdown(self, sent: dict[str, int] | None = None) -> str:
        lines = [f"# {md(self.name)}", f"As of {self.as_of:%A} {day(self.as_of)}.", ""]
        if self.headline:  # the same numbers and words as `govcal status`
            lines += [
                f"**{md(self.headline)}** (every item and every agency's or "
                f"school's return, as `govcal status` counts them)",
                "",
            ]
        if self.rule_problems:  # the calendar below is the last good one: say so first
            lines.append("## The rule file has problems: running on its last good version")
            lines += ["- `" + code(p) + "`" for p in self.rule_problems]
            lines.append("")
        sections = self.sections()
        for key, items in sections.items():
            lines.append(f"## {self.heading(key)} ({len(items)})")
            if not items:
                lines += [self._none_here(key, sections), ""]
                continue
            if key == "overdue":
                lines += _by_owner(items, self.as_of)
            else:
                lines += [i.line(self.as_of) for i in items[:SHOWN]]
                if len(items) > SHOWN:
                    lines.append(f"- and {len(items) - SHOWN} more in the open-items table")
            if key == "decision":
                lines.append("")
                lines.append(f"Flagged for {md(self.flagged_for)}: consider referral.")
            lines.append("")
        if self.cycles:
            lines.append("## Audit returns")
            lines += [f"- {c.describe()}" for c in self.cycles]
            lines.append("")
        if self.meetings:
            lines.append("## Who is coming")
            lines += self.meetings
            lines.append("")
        if self.done:
            lines.append(f"## Recently done ({len(self.done)})")
            lines += [d.line() for d in self.done[:SHOWN]]
            if len(self.done) > SHOWN:
                lines.append(f"- and {len(self.done) - SHOWN} more")
            lines.append("")
        if self.changes:
            total = max(self.changes_total, len(self.changes))
            lines.append(f"## Changes in the last {CHANGES_DAYS} days ({total})")
            lines += [c.line() for c in self.changes[:SHOWN]]
            if total > SHOWN:
                lines.append(f"- and {total - SHOWN} more in the audit trail")
            lines.append("")
        if self.downloads:  # addresses the flow built: the web app's, signed
            lines.append("## The tables as CSV, for a spreadsheet")
            lines += [f"- [{md(label)}](<{url}>)" for label, url in self.downloads]
            lines.append("")
        if self.undelivered:  # a refusal is silent otherwise: the reminder never came
            lines.append(f"## Mail that could not be delivered ({len(self.undelivered)})")
            lines += [u.line() for u in self.undelivered[:SHOWN]]
            if len(self.undelivered) > SHOWN:
                lines.append(f"- and {len(self.undelivered) - SHOWN} more")
            lines.append("Correct the address (people.csv) or ask the relay's owner why.")
            lines.append("")
        lines += self.failing
        if sent is not None:
            total = sum(sent.values())
            detail = ", ".join(f"{n} {k}" for k, n in sorted(sent.items()) if n)
            lines.append(
                f"Sent by this run: {detail or 'nothing'}."
                if total
                else "Sent by this run: nothing."
            )
        return "\n".join(lines).rstrip() + "\n"


def _by_owner(items: list[Item], as_of: date) -> list[str]:
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        groups[item.owner].append(item)
    lines: list[str] = []
    for owner, owned in sorted(groups.items(), key=lambda kv: kv[1][0].urgency()):
        lines.append(f"**{md(owner[0].upper() + owner[1:])}** ({len(owned)})")
        lines.append("")
        lines += [i.line(as_of, owner=False) for i in owned[:SHOWN]]
        if len(owned) > SHOWN:
            lines.append(f"- and {len(owned) - SHOWN} more in the open-items table")
        lines.append("")
    return lines


# --- owners: the named person and their agency, not a role id ----------------------


@dataclass(frozen=True)
class Owners:
    """Resolves (role, subject) to the named people who hold it and their agency."""

    partnership: Partnership
    people: Directory
    names: dict[str, str]  # agency or school code -> name

    def label(self, role: str, subject: str = "", *, short: bool = False) -> str:
        """'Name, Agency' (short: 'Name, CODE'); the role's title if nobody holds it."""
        holders = self.people.holders.get((self.partnership.id, role), [])
        if subject:
            where = self.names.get(subject, subject)
            named = [c.name for a, s, c in holders if subject in (a, s)]
            return f"{named[0]}, {where}" if named else f"{self._role(role)}, {where}"
        if not holders:
            return f"{self._role(role)} (nobody named: import people.csv)"
        agency, school, first = holders[0]
        if short:
            return f"{first.name}, {agency.upper()}" if agency else first.name
        where = self.names.get(agency or school, "") or self._role(role)
        return first.name if where in first.name else f"{first.name}, {where}"

    def person(self, role: str) -> str:
        """The name of the first person who holds `role` ("" if nobody)."""
        holders = self.people.holders.get((self.partnership.id, role), [])
        return holders[0][2].name if holders else ""

    def named(self, role: str, subject: str) -> str:
        """The name of whoever holds `role` for that agency or school ("" if nobody)."""
        holders = self.people.holders.get((self.partnership.id, role), [])
        return next((c.name for a, s, c in holders if subject in (a, s)), "")

    def _role(self, role: str) -> str:
        found = self.partnership.roles.get(role)
        return found.title.split(" (")[0] if found else role


# --- gathering: the only part that reads the database --------------------------------


def build(session: Session, partnership: Partnership, as_of: date) -> Dashboard:
    return build_all(session, [partnership], as_of)[0]


def build_all(session: Session, partnerships: list[Partnership], as_of: date) -> list[Dashboard]:
    """Each partnership's board, in its order, from one read of each kind of data for all
    of them: the daily job builds 160 boards, and one partnership's status query alone
    reads its ten years through (partnership, due) while the all-partnership one goes by
    (lifecycle, due) to the few rows that matter."""
    if not partnerships:
        return []
    with paused():  # tens of thousands of rows and lines: see flows/collector.py
        return _build_all(session, partnerships, as_of)


def _build_all(session: Session, partnerships: list[Partnership], as_of: date) -> list[Dashboard]:
    wanted = [p.id for p in partnerships]
    rows = status_rows(
        session,
        as_of,
        partnership_id=wanted[0] if len(wanted) == 1 else None,
        ahead_days=60,
        due_soon_days={p.id: p.due_soon_days for p in partnerships},
        zones={p.id: p.tz for p in partnerships},
        plain=True,
    )
    by_partnership: dict[str, list[StatusRow]] = {pid: [] for pid in wanted}
    for r in rows:
        mine = by_partnership.get(r.row.partnership_id)
        if mine is not None:
            mine.append(r)
    ids = [r.row.id for r in rows if r.status.state.is_open and r.row.id]
    flags = ledger.flagged(session, ids)
    escalated = escalations.escalations(session, ids)
    people = load_directory(session, wanted)
    names = queries.subject_names_of(session, wanted)
    clocks = queries.events_of(session, wanted)
    cycles = cycle_tables_all(session, partnerships, as_of, names)
    failures = Failures.read(session, as_of)
    meetings = meetings_board.read_all(session, partnerships, people, as_of)
    first = as_of - timedelta(days=CHANGES_DAYS - 1)
    trail = changes_since(session, wanted, first, as_of, keep=SHOWN)
    titles = queries.titles_by_public_id(
        session, [e.entity_id for entries, _n in trail.values() for e in entries]
    )
    failing = failing_board.read_all(session, partnerships, people)
    boards = []
    for partnership in partnerships:
        owners = Owners(partnership, people, names[partnership.id])
        refs = {e.ref for e in clocks.get(partnership.id, ())}
        mine = by_partnership[partnership.id]
        board = _board(partnership, mine, as_of, owners, refs, flags, escalated)
        board.headline = counts_line(r for r in mine if in_status_window(r, as_of))
        board.done = recently_done(mine, as_of, names[partnership.id])
        entries, board.changes_total = trail[partnership.id]
        board.changes = [_change(e, titles) for e in entries]
        board.cycles = cycles[partnership.id]
        board.undelivered = failures.of(partnership, owners)
        board.meetings = meetings[partnership.id]
        board.failing = failing[partnership.id]
        boards.append(board)
    return boards


def recently_done(rows: list[StatusRow], as_of: date, names: dict[str, str]) -> list[Done]:
    """What was closed in the status window, newest first: items one by one, a round's
    returns of one day on one line (148 schools returning would drown the section)."""
    closed = [r for r in rows if not r.status.state.is_open and r.closed() is not None]
    closed.sort(key=lambda r: (-(r.closed() or as_of).toordinal(), r.row.public_id))
    groups: dict[tuple[str, ...], list[StatusRow]] = {}
    for r in closed:
        key = (
            (r.row.rule_id, r.row.period, str(r.closed())) if r.row.subject else (r.row.public_id,)
        )
        groups.setdefault(key, []).append(r)
    return [_done(members, names) for members in groups.values()]


def _done(members: list[StatusRow], names: dict[str, str]) -> Done:
    first = members[0]
    row = first.row
    how = (
        row.lifecycle
        if row.lifecycle != "completed"
        else ("returned" if row.subject else "completed")
    )
    if first.status.state is State.COMPLETED_LATE:
        how += " late"
    on = first.closed() or row.due
    if not row.subject:
        return Done(
            titled(row.title, row.public_id),
            on,
            how,
            row.completed_by or "",
            _evidence(first),
            row.public_id,
        )
    if len(members) == 1:
        return Done(
            f"{row.title}: {names.get(row.subject, row.subject)}",
            on,
            how,
            row.completed_by or "",
            _evidence(first),
            row.public_id,
        )
    who = [names.get(m.row.subject, m.row.subject) for m in members]
    more = f" and {len(who) - MISSING_SHOWN} more" if len(who) > MISSING_SHOWN else ""
    return Done(
        f"{row.title}: {', '.join(who[:MISSING_SHOWN])}{more}",
        on,
        how,
        "",
        "",
        row.public_id.rsplit(":", 1)[0],
    )


def _evidence(r: StatusRow) -> str:
    return r.row.evidence_url or (r.row.evidence_file or "").rsplit("/", 1)[-1]


def _change(entry: TrailEntry, titles: dict[str, str]) -> Change:
    what = titles.get(entry.entity_id, entry.entity)
    return Change(
        entry.at,
        entry.actor,
        entry.channel,
        entry.action,
        titled(what, entry.entity_id) if entry.entity_id in titles else what,
        entry.entity_id,
    )


def _board(
    partnership: Partnership,
    rows: list[StatusRow],
    as_of: date,
    owners: Owners,
    clocks: set[str],
    flags: set[int],
    escalated: dict[int, Escalation],
) -> Dashboard:
    """The board's items: one line per open occurrence, one per audit round. The sections'
    days come from the partnership's file: its due_soon_days and each rule's ladder."""
    flag = flag_step(partnership.ladder)
    role = partnership.roles.get(flag.flag or "") if flag is not None else None
    board = Dashboard(
        partnership.id,
        partnership.name,
        as_of,
        soon_days=partnership.due_soon_days,
        decision_days=flag.day if flag is not None else None,
    )
    if role is not None:
        board.flagged_for = f"the {role.display_name}"
    board.counts = Counter(r.status.state.value for r in rows)
    rules = {rule.id: rule for rule in partnership.rules}
    live = [r for r in rows if r.status.state.is_open]
    rounds: dict[tuple[str, str], list[StatusRow]] = defaultdict(list)
    for r in live:
        if r.row.subject:
            rounds[(r.row.rule_id, r.row.period)].append(r)
            continue
        rule = rules.get(r.row.rule_id)
        board.items.append(
            Item(
                titled(r.row.title, r.row.public_id),
                r.row.due,
                owners.label(r.row.owner_role),
                r.status.state,
                (r.row.due - as_of).days,
                r.row.public_id,
                clock=r.row.period in clocks,
                escalation=escalated.get(r.row.id or 0),
                flagged=(r.row.id or 0) in flags,
                owner_short=owners.label(r.row.owner_role, short=True),
                lead=short_name(owners.person(r.row.owner_role) or "none named"),
                **_policy(partnership, rule),
            )
        )
    for (rule_id, period), members in rounds.items():
        board.items.append(
            _round_item(
                partnership,
                rules.get(rule_id),
                rule_id,
                period,
                members,
                as_of,
                flags,
                escalated,
                owners,
            )
        )
    return board


def _policy(partnership: Partnership, rule: Rule | None) -> dict:
    """What the rule file decides for an item: what completes it, when it is "soon", and
    from which day overdue it needs a decision (its ladder's flag)."""
    ladder = partnership.ladder_for(rule) if rule is not None else partnership.ladder
    return {
        "done_when": rule.evidence if rule is not None else "",
        "soon_days": partnership.due_soon_days,
        "decision_days": _flag_day(ladder),
    }


def per_noun(rule: Rule | None, count: int) -> str:
    """'agency'/'agencies' or 'school'/'schools', as the rule fans out."""
    school = rule is not None and rule.per is Per.SCHOOL
    if count == 1:
        return "school" if school else "agency"
    return "schools" if school else "agencies"


@dataclass(frozen=True)
class Failures:
    """Mail refused for good in the last FAILED_DAYS, read once for every board."""

    since: datetime
    failures: list[ledger.FailedDelivery]
    owner: dict[int, str]  # failed ledger row id -> its partnership
    titles: dict[int, str]  # occurrence id -> title

    @classmethod
    def read(cls, session: Session, as_of: date) -> Failures:
        since = datetime.combine(as_of - timedelta(FAILED_DAYS), time(), UTC)
        failures = ledger.recent_failures(session, since)
        owner = {
            row.id: pid
            for row, pid in ledger.with_partnership(session, [f.id for f in failures])
            if row.id is not None
        }
        wanted = {f.occurrence_id for f in failures}
        public = queries.occurrence_public_ids(session, wanted)
        titles = {
            i: titled(title, public.get(i, ""))
            for i, title in queries.occurrence_titles(session, wanted).items()
        }
        return cls(since, failures, owner, titles)

    def of(self, partnership: Partnership, owners: Owners) -> list[Undelivered]:
        """This partnership's refused mail, newest first."""
        mine = [f for f in self.failures if self.owner.get(f.id) == partnership.id]
        if not mine:
            return []
        who: dict[str, str] = {}
        for (pid, role), held in owners.people.holders.items():
            for _agency, _school, contact in held if pid == partnership.id else []:
                who.setdefault(contact.email.lower(), f"{contact.name}, {owners._role(role)}")
        return [
            Undelivered(
                who.get(f.recipient.lower(), f.recipient),
                f"{self.titles.get(f.occurrence_id, 'an obligation')} ({f.kind})",
                f.answer or "no answer recorded",
                f.attempted_at or self.since,
            )
            for f in mine
        ]


def _round_item(
    partnership: Partnership,
    rule: Rule | None,
    rule_id: str,
    period: str,
    members: list[StatusRow],
    as_of: date,
    flags: set[int],
    escalated: dict[int, Escalation],
    owners: Owners,
) -> Item:
    """An audit cycle's open returns as one line: 148 lines would drown the summary; it
    names the first few missing, each with its named lead, then the count. A round
    escalated to the Lead Partners is answered as a whole (one link, one click):
    acknowledged once every escalated member is."""
    first = members[0]
    states = Counter(m.status.state for m in members)
    worst = next(s for s in (State.OVERDUE, State.DUE, State.DUE_SOON, State.UPCOMING) if states[s])
    ordered = sorted(members, key=lambda m: owners.names.get(m.row.subject, m.row.subject))
    missing = tuple(_member(owners, m) for m in ordered[:MISSING_SHOWN])
    more = len(members) - len(missing)
    owner_short = "; ".join(missing[:2])
    if len(members) > 2:
        owner_short += f" and {len(members) - 2} more"
    alone = owners.named(first.row.owner_role, first.row.subject) if len(members) == 1 else ""
    lead = f"{len(members)} leads" if len(members) > 1 else short_name(alone or "none named")
    return Item(
        f"{first.row.title}: {len(members)} {per_noun(rule, len(members))} not yet returned",
        first.row.due,
        owner_short,
        worst,
        (first.row.due - as_of).days,
        f"{partnership.id}:{rule_id}:{period}",
        flagged=any((m.row.id or 0) in flags for m in members),
        owner_short=owner_short,
        lead=lead,
        escalation=_round_escalation([escalated.get(m.row.id or 0) for m in members]),
        missing=missing,
        missing_count=len(missing) + more,
        **_policy(partnership, rule),
    )


def _member(owners: Owners, member: StatusRow) -> str:
    """'Cumbria Constabulary (Jo Bloggs)': a missing return and its named lead (the lead
    alone when the name already says where)."""
    subject = member.row.subject
    where = owners.names.get(subject, subject)
    named = owners.named(member.row.owner_role, subject)
    if not named:
        return f"{where} (nobody named: import people.csv)"
    return named if where in named else f"{where} ({named})"


def _round_escalation(found: list[Escalation | None]) -> Escalation | None:
    """The round's escalation: when its first member was escalated, and its answer once
    every escalated member is answered (the first answer is the one shown)."""
    known = [e for e in found if e is not None]
    if not known:
        return None
    first = min(e.escalated_at for e in known)
    answered = [e for e in known if e.acknowledged_at is not None]
    if len(answered) < len(known):
        return Escalation(first)
    chosen = min(answered, key=lambda e: e.acknowledged_at or first)
    return Escalation(first, chosen.acknowledged_by, chosen.acknowledged_at, chosen.channel)


def current_cycle(cycles: list, as_of: date):
    """The cycle of one audit rule that matters now: the latest one overdue with returns
    missing, else the next one due (the 2026 S175 cycle, 0 of 148 returned, comes before
    the 2027 one that is still months away)."""
    counts = [(c, returned, total) for c, returned, total in cycles]
    late = [x for x in counts if x[0].due < as_of and x[1] < x[2]]
    if late:
        return max(late, key=lambda x: x[0].due)
    ahead = [x for x in counts if x[0].due >= as_of]
    if ahead:
        return min(ahead, key=lambda x: x[0].due)
    return max(counts, key=lambda x: x[0].due) if counts else None


def cycle_tables_all(
    session: Session,
    partnerships: list[Partnership],
    as_of: date,
    names: dict[str, dict[str, str]] | None = None,
) -> dict[str, list[CycleTable]]:
    """For each partnership and audit rule, its current cycle, agency by agency or school
    by school; each kind of data (the current cycles, their returns and follow-up
    actions) read once for all the partnerships."""
    wanted = [p.id for p in partnerships]
    window = timedelta(days=400)  # a cycle further from the day than this is not current
    cycles = queries.cycles_due_between(session, wanted, as_of - window, as_of + window)
    counts = queries.return_counts(session, [c.id for c in cycles if c.id], as_of)
    by_rule: dict[str, dict[str, list]] = {pid: defaultdict(list) for pid in wanted}
    for c in cycles:
        returned, total = counts.get(c.id or 0, (0, 0))
        if total:
            by_rule[c.partnership_id][c.rule_id].append((c, returned, total))
    names = names if names is not None else queries.subject_names_of(session, wanted)
    chosen: dict[str, list] = {pid: [] for pid in wanted}
    for pid in wanted:
        for rule, candidates in sorted(by_rule[pid].items()):
            current = current_cycle(candidates, as_of)
            if current is not None:
                chosen[pid].append((rule, *current))
    members_of = queries.return_tables(
        session, [cycle.id for found in chosen.values() for _r, cycle, _n, _t in found if cycle.id]
    )
    actions = queries.follow_ups(
        session, [m.id for members in members_of.values() for m in members if m.id]
    )
    out: dict[str, list[CycleTable]] = {}
    for pid in wanted:
        out[pid] = []
        for rule, cycle, returned, total in chosen[pid]:
            members = members_of.get(cycle.id or 0, [])
            noun = "schools" if cycle.per == "school" else "agencies"
            table = CycleTable(rule, cycle.public_id, cycle.title, cycle.due, noun, returned, total)
            shaped = [
                return_row(
                    names[pid].get(m.subject, m.subject),
                    m.subject,
                    m.completed_at,
                    m.due,
                    m.rag,
                    actions.get(m.id or 0, []),
                    as_of,
                    noun,
                )
                for m in members
            ]
            table.cells = [row for _key, row in sorted(shaped, key=lambda kv: kv[0])]
            table.rows = [_escaped(row) for row in table.cells]
            out[pid].append(table)
    return out


_OWN_TEXT = ("Returned",)  # cells govcal writes itself: nothing to escape
_NAMES = ("School", "Agency")  # cut in the table (cells never wrap), whole in the CSV


def _escaped(row: dict[str, str]) -> dict[str, str]:
    """A returns row as the table shows it: names cut to fit; names, codes and actions as
    typed (`table_cell`)."""
    shown = {k: shorten_name(v, 25) if k in _NAMES else v for k, v in row.items()}
    return {k: v if k in _OWN_TEXT else cell(v) for k, v in shown.items()}


def return_row(
    name: str,
    code: str,
    returned_on: date | None,
    due: date,
    rag: str | None,
    actions: list[FollowUpAction],
    as_of: date,
    noun: str,
) -> tuple[tuple[int, str], dict[str, str]]:
    """One agency's or school's line as plain text, with its sort key (missing and red
    first); the table escapes it, the CSV does not."""
    if returned_on is None or returned_on > as_of:
        late = (as_of - due).days
        # the due day, not "N days late": the row then changes only when something is
        # recorded, and so does the table (posted only when it changes: flows/publish.py)
        status = f"🔴 missing, due {short_day(due)}" if late > 0 else "not yet"
        rank = 0
    else:
        status = short_day(returned_on) + (", late" if returned_on > due else "")
        rank = {"red": 1, "amber": 2}.get(rag or "", 3 if rag is None else 4)
    open_actions = [a for a in actions if a.completed_at is None]
    reviewed = REVIEW_MARK.get(rag or "", "not reviewed" if rank else "")
    if open_actions:  # the first open action, its due day first: the cut falls on the text
        first = open_actions[0]
        more = f" (+{len(open_actions) - 1})" if len(open_actions) > 1 else ""
        reviewed += f" · {short_day(first.due)}: {shorten(first.description, 12)}{more}"
    subject = "School" if noun == "schools" else "Agency"
    # four columns within 742 px, the narrower box of Prefect's two UIs at 1440 px (V2,
    # beside its details panel): the name cut, the code to paste whole, the day it came
    # in, and the review merged with its first follow-up action
    return (rank, name), {
        subject: name,
        "Code": code,
        "Returned": status,
        "Review, next action": reviewed,
    }


# --- choices: what a form offers when no id was pasted --------------------------------

CHOICES_SHOWN = 300  # a drop-down longer than this helps nobody: paste the id instead


def choices(session: Session, action: str, as_of: date, names: dict[str, str]) -> dict[str, str]:
    """label -> id of the items a form can act on today, nearest to today first (the
    meeting that has just happened, the deadline that is next).

    `action` is complete, waive, cancel, reschedule (open items), return (open S11/S175
    returns), review (returns awaiting review), reopen (closed in the last 90 days) or
    acknowledge (escalated and unanswered). `names` maps agency and school codes to names.
    """
    if action == "review":
        pairs = queries.unreviewed_returns(session, CHOICES_SHOWN)
        pairs.sort(
            key=lambda p: (abs(((p[1].completed_at or p[1].due) - as_of).days), p[1].public_id)
        )
        return _labels(  # the cycle's year: an agency returns every year
            (
                f"{names.get(r.subject, r.subject)} · {o.title} {o.due.year} · returned "
                f"{day(o.completed_at or o.due)}",
                o.public_id,
            )
            for r, o in pairs
        )
    rows = status_rows(session, as_of, ahead_days=60, behind_days=90)
    if action == "reopen":
        closed = [r for r in rows if not r.status.state.is_open]
        closed.sort(key=lambda r: r.row.due, reverse=True)
        return _labels(
            (
                f"{titled(r.row.title, r.row.public_id)} · {r.row.lifecycle} · "
                f"due {day(r.row.due)}",
                r.row.public_id,
            )
            for r in closed
        )
    if action == "acknowledge":
        return _to_acknowledge(session, [r for r in rows if r.status.state.is_open], as_of)
    live = [
        r for r in rows if r.status.state.is_open and bool(r.row.subject) == (action == "return")
    ]
    live.sort(key=lambda r: (abs((r.row.due - as_of).days), r.row.title))  # nearest first
    if action == "return":
        return _labels(
            (
                f"{names.get(r.row.subject, r.row.subject)} · {r.row.title} · due {day(r.row.due)}",
                r.row.public_id,
            )
            for r in live
        )
    several = len({r.row.partnership_id for r in live}) > 1  # then say whose item it is
    return _labels(
        (
            f"{titled(r.row.title, r.row.public_id)} · due {day(r.row.due)} · "
            f"{r.status.describe()}" + (f" · {r.row.partnership_id}" if several else ""),
            r.row.public_id,
        )
        for r in live
    )


def _to_acknowledge(session: Session, live: list[StatusRow], as_of: date) -> dict[str, str]:
    """Escalations no Lead Partner has acknowledged: one entry per item, and one per audit
    round (its cycle's id), as the escalation emails group them."""
    found = escalations.escalations(session, [r.row.id for r in live if r.row.id])
    waiting = [r for r in live if (e := found.get(r.row.id or 0)) and not e.acknowledged_at]
    entries: dict[str, tuple[int, str]] = {}  # id -> (distance from today, label)
    rounds: dict[str, list[StatusRow]] = defaultdict(list)
    for r in waiting:
        if r.row.subject:
            rounds[f"{r.row.partnership_id}:{r.row.rule_id}:{r.row.period}"].append(r)
        else:
            title = titled(r.row.title, r.row.public_id)
            label = f"{title} · due {day(r.row.due)} · {r.status.describe()}"
            entries[r.row.public_id] = (abs((r.row.due - as_of).days), label)
    per = queries.cycles_per(session, list(rounds))
    for cycle_id, members in rounds.items():
        first = members[0]
        one, many = (
            ("school", "schools") if per.get(cycle_id) == "school" else ("agency", "agencies")
        )
        count = f"{len(members)} {one if len(members) == 1 else many} not returned"
        label = f"{first.row.title} {first.row.due.year}: {count} · due {day(first.row.due)}"
        entries[cycle_id] = (abs((first.row.due - as_of).days), label)
    several = len({i.split(":", 1)[0] for i in entries}) > 1  # then say whose item it is
    ordered = sorted(entries.items(), key=lambda kv: (kv[1][0], kv[1][1]))  # nearest first
    return _labels(
        (label + (f" · {i.split(':', 1)[0]}" if several else ""), i) for i, (_d, label) in ordered
    )


def _labels(pairs) -> dict[str, str]:
    out: dict[str, str] = {}
    for label, public_id in pairs:
        out[f"{label} · {public_id}" if label in out else label] = public_id
        if len(out) >= CHOICES_SHOWN:
            break
    return out
