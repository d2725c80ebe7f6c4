"""Import the directory (agencies, schools, people and roles) from CSV files.

Row by row: a bad row is reported with its line and what is wrong, and the good rows
are still imported. Re-importing a file updates what is there instead of duplicating.
A file with a missing column imports nothing, since every row would be wrong the same way.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import insert
from sqlmodel import Session, SQLModel, col, select

from govcal.models.chunks import chunks
from govcal.models.directory import Agency, AgencyType, School, SchoolPhase
from govcal.models.directory_changes import EndedRole, delete_person_if_roleless, end_assignments
from govcal.models.evidence import is_system_path
from govcal.models.people import Delegation, Person, RoleAssignment
from govcal.models.sync import register_partnership
from govcal.models.trail import Channel, record
from govcal.models.types import table_of, utcnow
from govcal.rules.model import Partnership
from govcal.rules.problems import Problem as ImportProblem
from govcal.rules.text import check_cell

KINDS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required columns, optional columns)
    "agencies": ({"code", "name", "type"}, {"category", "lead_partner", "sample", "partnership"}),
    "schools": ({"code", "name", "phase"}, {"sample", "partnership"}),
    "people": (
        {"name", "email", "role"},
        {"agency", "school", "acts_for", "sample", "partnership"},
    ),
}
_ORDER = ("agencies", "schools", "people")
MAX_FILE_BYTES = 20 * 1024 * 1024  # a directory of many thousand people is a few MB


@dataclass
class FileReport:
    file: str
    kind: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    listed: set[tuple[int | None, str, str, str]] = field(default_factory=set)  # people rows read
    ended: list[EndedRole] = field(default_factory=list)  # roles --replace ended
    refused: bool = False  # the whole file was refused: nothing was imported from it

    def refuse(self, line: int, message: str) -> FileReport:
        self.problems.append(ImportProblem(self.file, line, message))
        self.refused = True
        return self


def csv_files(path: Path) -> list[Path]:
    """A CSV file, or a folder's CSV files in dependency order (agencies before people)."""
    if path.is_file():
        return [path]
    files = sorted(path.glob("*.csv"))
    rank = {kind: i for i, kind in enumerate(_ORDER)}
    return sorted(files, key=lambda f: (rank.get(f.stem.split("-")[0], len(rank)), f.name))


def unreadable(file: Path) -> str | None:
    """Why `file` cannot be read as a CSV file (checked before it is opened, so a named
    pipe never blocks and a link never leads into the system), or None."""
    if is_system_path(Path(os.path.abspath(file))) or is_system_path(file.resolve()):
        return "is a system file or a link to one; give the CSV file itself"
    try:
        info = file.stat()
    except OSError:
        return "no such file or folder"
    if stat.S_ISDIR(info.st_mode):
        return None
    if not stat.S_ISREG(info.st_mode):
        return "is a device or pipe, not a CSV file; give the CSV file itself"
    if info.st_size > MAX_FILE_BYTES:
        return f"is {info.st_size // (1024 * 1024)} MB; a directory CSV is at most 20 MB"
    return None


Rows = list[tuple[int, dict[str, str]]]  # a file's rows, each with its line


def _read_rows(reader: csv.DictReader[str], report: FileReport) -> Rows:
    """Every row with its line; a CSV error refuses the whole file (nothing imported)."""
    rows = []
    try:
        for raw in reader:
            row = {(k or "").strip().lower(): (v or "") for k, v in raw.items() if k}
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        problem = str(exc)
        if "field larger than field limit" in problem:
            problem = (
                f"a value is longer than {csv.field_size_limit():,} characters (perhaps a "
                "quote left open)"
            )
        start = (rows[-1][0] if rows else 1) + 1  # the record after the last one read
        report.refuse(start, f"{problem}; fix this line. Nothing was imported from this file")
        return []
    return rows


def _decode(raw: bytes, report: FileReport) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.notices.append(
            f"{report.file}: not UTF-8, read as Windows-1252; check accented names and save "
            "the file as UTF-8 next time"
        )
        return raw.decode("cp1252", errors="replace")


def _kind_of(file: Path, columns: set[str]) -> str | None:
    """The file's name decides when it names a kind (schools.csv); else its columns."""
    stem = file.stem.lower()
    for kind in KINDS:
        if stem.startswith(kind) or stem.startswith(kind.rstrip("s")):
            return kind
    best = None
    for kind, (required, _optional) in KINDS.items():
        if required <= columns:
            return kind
        if len(required & columns) >= 2:
            best = kind
    return best


def _clean(value: str | None, column: str) -> str:
    text = (value or "").strip()
    check_cell(text, column)  # control characters, length, spreadsheet formulas
    return text


_CODE = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def _code(value: str | None, column: str) -> str:
    """An agency or school code: plain ASCII, case-folded (WF-P001 is wf-p001), so a
    look-alike letter (a Cyrillic р in wf-р001) or another case never makes a second
    school beside the first."""
    text = _clean(value, column)
    if not text.isascii():
        odd = next(c for c in text if not c.isascii())
        raise ValueError(
            f"{column} '{text}' holds '{odd}' ({unicodedata.name(odd, 'not ASCII')}); codes are "
            "plain ASCII letters, digits, '-', '_' and '.': retype it"
        )
    code = text.lower()
    if code and not _CODE.fullmatch(code):
        raise ValueError(
            f"{column} '{text}' is not a code: use letters, digits, '-', '_' and '.' only"
        )
    return code


def lookalike(email: str) -> str | None:
    """The letters of an address's domain from a non-Latin script, named ('а' CYRILLIC
    SMALL LETTER A), or None: exаmple.org (or its xn-- form) reads as example.org but is
    another domain. Latin letters with accents (exämple.org) are not look-alikes."""
    domain = email.rpartition("@")[2]
    odd = [
        c
        for c in dict.fromkeys(domain)
        if not c.isascii() and c.isalpha() and not unicodedata.name(c, "").startswith("LATIN")
    ]
    if not odd:
        return None
    return ", ".join(f"'{c}' ({unicodedata.name(c, f'U+{ord(c):04X}')})" for c in odd)


def _is_sample(row: dict[str, str]) -> bool:
    return (row.get("sample") or "").strip().lower() in ("yes", "true", "1", "y")


@lru_cache(maxsize=1 << 16)  # a file names each address twice (row, acts_for); pure
def normalise_email(value: str) -> str:
    """The address as govcal stores it, or ValueError when no transport could deliver it.

    The domain must be valid IDNA (an internationalised domain such as exämple.org is
    fine: it is sent as xn--exmple-cua.org); an address with a non-ASCII part before the
    @ is accepted, since relays that offer SMTPUTF8 deliver it (one without SMTPUTF8
    refuses that recipient alone, and the refusal is reported)."""
    try:
        found = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(
            f"email '{value}' is not valid: {exc} No mail transport can deliver to it; correct it"
        ) from None
    wire = f"{found.local_part}@{found.ascii_domain}"
    if len(wire.encode("utf-8")) > 254:
        raise ValueError(f"email '{value}' is longer than mail allows (254 bytes); correct it")
    return found.normalized


def needs_smtputf8(address: str) -> bool:
    """Whether the part before the @ is non-ASCII (only SMTPUTF8 relays deliver it)."""
    return not address.rsplit("@", 1)[0].isascii()


def import_directory(
    session: Session,
    path: Path,
    partnership: Partnership,
    *,
    actor: str = "govcal",
    channel: Channel = Channel.CLI,
    label: str | None = None,
    replace: bool = False,
) -> list[FileReport]:
    """Import the files; with `replace`, a people file is authoritative: the roles in the
    partnership of everyone it does not list are ended (only when no row was rejected,
    since a rejected row may be someone who should keep their role)."""
    register_partnership(session, partnership)
    partnership_id, known_roles = partnership.id, set(partnership.roles)
    if problem := unreadable(path):
        return [FileReport(label or str(path)).refuse(0, problem)]
    files = csv_files(path)
    if not files:
        return [FileReport(label or str(path)).refuse(0, "holds no .csv file")]
    reports = []
    for file in files:
        shown = label if (label and path.is_file()) else str(file)
        report = FileReport(shown)
        if problem := unreadable(file):
            reports.append(report.refuse(0, problem))
            continue
        text = _decode(file.read_bytes(), report)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            names = [c.strip().lower() for c in reader.fieldnames or [] if c]
        except csv.Error as exc:
            reports.append(
                report.refuse(
                    1,
                    f"the header line cannot be read ({exc}); fix it. "
                    "Nothing was imported from this file",
                )
            )
            continue
        columns = set(names)
        if twice := sorted({c for c in names if names.count(c) > 1}):
            twice_said = (
                f"column '{twice[0]}' appears more than once in the header line (which one "
                "holds the value?); keep one. Nothing was imported from this file"
            )
            reports.append(report.refuse(1, twice_said))
            continue
        kind = _kind_of(file, columns)
        if kind is None:
            report.refuse(
                1,
                "cannot tell what this file holds; expected the columns of agencies "
                "(code,name,type), schools (code,name,phase) or people (name,email,role). "
                "Nothing was imported from this file",
            )
            reports.append(report)
            continue
        report.kind = kind
        required, optional = KINDS[kind]
        missing = sorted(required - columns)
        if missing:
            report.refuse(
                1,
                f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                f"{kind} files need {', '.join(sorted(required))}. Nothing was imported "
                "from this file",
            )
            reports.append(report)
            continue
        unknown = sorted(columns - required - optional)
        if unknown:
            report.notices.append(f"{shown}: ignored unknown column(s) {', '.join(unknown)}")
        rows = _read_rows(reader, report)
        if report.refused:
            reports.append(report)
            continue
        importer = {"agencies": _agencies, "schools": _schools, "people": _people}[kind]
        importer(session, rows, partnership_id, known_roles, report)
        if replace and kind == "people":
            _replace(session, partnership_id, report, actor=actor, channel=channel)
        record(
            session,
            actor=actor,
            channel=channel,
            action="imported",
            entity="directory",
            entity_id=f"{partnership_id}:{kind}",
            after={
                "file": file.name,
                "created": report.created,
                "updated": report.updated,
                "rejected_rows": len(report.problems),
            },
        )
        session.flush()
        reports.append(report)
    if replace and reports and not any(r.kind == "people" for r in reports):
        reports[-1].notices.append(
            "--replace applies to a people file and none was imported; no role was ended"
        )
    return reports


def _replace(
    session: Session, partnership_id: str, report: FileReport, *, actor: str, channel: Channel
) -> None:
    if report.problems:
        report.notices.append(
            f"{report.file}: --replace not applied: {len(report.problems)} row(s) were "
            "rejected, and a rejected row may be someone who keeps their role; fix them and "
            "import again. No role was ended"
        )
        return
    session.flush()
    unlisted = [
        a
        for a in session.exec(
            select(RoleAssignment).where(RoleAssignment.partnership_id == partnership_id)
        )
        if (a.person_id, a.role, a.agency_code, a.school_code) not in report.listed
    ]
    report.ended = end_assignments(
        session,
        unlisted,
        reason=f"not in {Path(report.file).name} (import --replace)",
        actor=actor,
        channel=channel,
    )
    removed = {r.email for r in report.ended}
    for person in session.exec(select(Person).where(col(Person.email).in_(removed))):
        delete_person_if_roleless(session, person)


def _wrong_partnership(row: dict[str, str], partnership_id: str) -> str | None:
    given = (row.get("partnership") or "").strip()
    if given and given != partnership_id:
        return f"row is for partnership '{given}', not '{partnership_id}'; import it there"
    return None


def _agencies(
    session: Session, rows: Rows, partnership_id: str, _roles: set[str], report: FileReport
) -> None:
    existing = {
        a.code: a
        for a in session.exec(select(Agency).where(Agency.partnership_id == partnership_id))
    }
    seen: dict[str, int] = {}
    new: list[SimpleNamespace] = []
    types = ", ".join(t.value for t in AgencyType)
    for line, row in rows:
        try:
            if problem := _wrong_partnership(row, partnership_id):
                raise ValueError(problem)
            code, name = _code(row.get("code"), "code"), _clean(row.get("name"), "name")
            kind = _clean(row.get("type"), "type").lower()
            if not code or not name:
                raise ValueError("code and name are required")
            if kind not in {t.value for t in AgencyType}:
                raise ValueError(f"type '{kind}' is not one of: {types}")
            if code in seen:
                raise ValueError(f"agency code '{code}' already appears on line {seen[code]}")
            values = {
                "name": name,
                "type": kind,
                "category": _clean(row.get("category"), "category"),
                "lead_partner": _code(row.get("lead_partner"), "lead_partner"),
                "is_sample": _is_sample(row),
            }
        except ValueError as exc:
            report.problems.append(ImportProblem(report.file, line, str(exc)))
            continue
        seen[code] = line
        _upsert(existing.get(code), new, values, report, partnership_id=partnership_id, code=code)
    _insert_new(session, Agency, new)


def _schools(
    session: Session, rows: Rows, partnership_id: str, _roles: set[str], report: FileReport
) -> None:
    existing = {
        s.code: s
        for s in session.exec(select(School).where(School.partnership_id == partnership_id))
    }
    seen: dict[str, int] = {}
    new: list[SimpleNamespace] = []
    phases = ", ".join(p.value for p in SchoolPhase)
    for line, row in rows:
        try:
            if problem := _wrong_partnership(row, partnership_id):
                raise ValueError(problem)
            code, name = _code(row.get("code"), "code"), _clean(row.get("name"), "name")
            phase = _clean(row.get("phase"), "phase").lower()
            if not code or not name:
                raise ValueError("code and name are required")
            if phase not in {p.value for p in SchoolPhase}:
                raise ValueError(f"phase '{phase}' is not one of: {phases}")
            if code in seen:
                raise ValueError(
                    f"school code '{code}' already appears on line {seen[code]}; each school once"
                )
            values = {"name": name, "phase": phase, "is_sample": _is_sample(row)}
        except ValueError as exc:
            report.problems.append(ImportProblem(report.file, line, str(exc)))
            continue
        seen[code] = line
        _upsert(existing.get(code), new, values, report, partnership_id=partnership_id, code=code)
    _insert_new(session, School, new)


def _people(
    session: Session, rows: Rows, partnership_id: str, known_roles: set[str], report: FileReport
) -> None:
    agencies = set(
        session.exec(select(Agency.code).where(Agency.partnership_id == partnership_id)).all()
    )
    schools = set(
        session.exec(select(School.code).where(School.partnership_id == partnership_id)).all()
    )
    people: dict[str, Person | SimpleNamespace] = dict(_people_named(session, rows))
    new: list[SimpleNamespace] = []
    assignments: set[tuple[int | None, str, str, str]] = {
        (a.person_id, a.role, a.agency_code, a.school_code)
        for a in session.exec(
            select(RoleAssignment).where(RoleAssignment.partnership_id == partnership_id)
        )
    }
    delegations: list[tuple[int, str, str]] = []
    held: list[tuple[Person, str, str, str]] = []  # assignments, added once ids exist
    roles = ", ".join(sorted(known_roles))
    for line, row in rows:
        try:
            if problem := _wrong_partnership(row, partnership_id):
                raise ValueError(problem)
            name = _clean(row.get("name"), "name")
            if not name:
                raise ValueError("name is required")
            email = normalise_email(_clean(row.get("email"), "email"))
            role = _clean(row.get("role"), "role").lower()
            if role not in known_roles:
                raise ValueError(f"role '{role}' is not a role of {partnership_id}: {roles}")
            agency = _code(row.get("agency"), "agency")
            school = _code(row.get("school"), "school")
            if agency and agency not in agencies:
                raise ValueError(
                    f"unknown agency '{agency}'; import the agencies file first or fix the code"
                )
            if school and school not in schools:
                raise ValueError(
                    f"unknown school '{school}'; import the schools file first or fix the code"
                )
            acts_for = _clean(row.get("acts_for"), "acts_for")
            acts_for = normalise_email(acts_for) if acts_for else ""
        except ValueError as exc:
            report.problems.append(ImportProblem(report.file, line, str(exc)))
            continue
        for address in (email, acts_for):
            if address and (letters := lookalike(address)):
                report.notices.append(
                    f"{report.file}:{line}: the domain of {address} holds {letters}, which look "
                    "like Latin letters: check it is the real domain, not a look-alike"
                )
        if needs_smtputf8(email):
            report.notices.append(
                f"{report.file}:{line}: {email} has non-ASCII characters before the @; only "
                "relays that offer SMTPUTF8 deliver it"
            )
        person = people.get(email)
        values = {"name": name, "is_sample": _is_sample(row)}
        person = _upsert(person, new, values, report, email=email)
        people[email] = person
        held.append((person, role, agency, school))
        if acts_for:
            delegations.append((line, email, acts_for))
    _insert_new(session, Person, new)  # one statement: role assignments need their ids
    for chunk in chunks([p.email for p in new]):
        query = select(Person.email, Person.id).where(col(Person.email).in_(chunk))
        ids = dict(session.exec(query).all())
        for email in chunk:
            people[email].id = ids[email]
    added: list[dict[str, object]] = []
    for person, role, agency, school in held:
        key = (person.id, role, agency, school)
        if key not in assignments:
            added.append(
                {
                    "person_id": person.id,
                    "partnership_id": partnership_id,
                    "role": role,
                    "agency_code": agency,
                    "school_code": school,
                }
            )
            assignments.add(key)
        report.listed.add(key)
    if added:
        session.connection().execute(insert(table_of(RoleAssignment)), added)
    _delegations(session, delegations, people, partnership_id, report)


def _people_named(session: Session, rows: Rows) -> dict[str, Person]:
    """The people a file names (as themselves or in acts_for), by email: one keyed read
    per 500 addresses, not every person of every partnership for each file."""
    emails: set[str] = set()
    for _line, row in rows:
        for column in ("email", "acts_for"):
            try:
                if value := _clean(row.get(column), column):
                    emails.add(normalise_email(value))
            except ValueError:
                continue  # reported with its line by the main pass
    found: dict[str, Person] = {}
    for chunk in chunks(sorted(emails)):
        found.update(
            (p.email, p) for p in session.exec(select(Person).where(col(Person.email).in_(chunk)))
        )
    return found


def _insert_new(session: Session, model: type[SQLModel], new: list[SimpleNamespace]) -> None:
    """The file's new rows in one executemany (ORM objects cost more than the insert)."""
    if not new:
        return
    now = utcnow()
    rows = [{k: v for k, v in vars(n).items() if k != "id"} | {"updated_at": now} for n in new]
    session.connection().execute(insert(table_of(model)), rows)


def _delegations(
    session: Session,
    delegations: list[tuple[int, str, str]],
    people: dict[str, Person | SimpleNamespace],
    partnership_id: str,
    report: FileReport,
) -> None:
    existing = {
        (d.delegate_id, d.lead_id)
        for d in session.exec(select(Delegation).where(Delegation.partnership_id == partnership_id))
    }
    for line, delegate_email, lead_email in delegations:
        lead = people.get(lead_email)
        if lead is None:
            report.problems.append(
                ImportProblem(
                    report.file,
                    line,
                    f"acts_for '{lead_email}' is not a known person; list the Lead "
                    "Safeguarding Partner in the file too",
                )
            )
            continue
        delegate_id, lead_id = people[delegate_email].id, lead.id
        assert delegate_id is not None and lead_id is not None  # new people have ids by now
        key = (delegate_id, lead_id)
        if key[0] == key[1] or _reaches(existing, key[1], key[0]):
            report.problems.append(
                ImportProblem(
                    report.file,
                    line,
                    f"acts_for '{lead_email}' "
                    + (
                        "is this person themselves"
                        if key[0] == key[1]
                        else "acts (directly or through others) for this person: a circle"
                    )
                    + "; a delegate acts for a Lead Safeguarding Partner who acts for nobody",
                )
            )
            continue
        if key not in existing:
            session.add(
                Delegation(partnership_id=partnership_id, delegate_id=key[0], lead_id=key[1])
            )
            existing.add(key)


def _reaches(edges: set[tuple[int, int]], start: int, goal: int) -> bool:
    """Whether `start` acts for `goal` through the delegations `edges` (delegate, lead)."""
    seen, todo = {start}, [start]
    while todo:
        at = todo.pop()
        for delegate, lead in edges:
            if delegate == at and lead not in seen:
                if lead == goal:
                    return True
                seen.add(lead)
                todo.append(lead)
    return False


def _upsert(
    row: Any, new: list[SimpleNamespace], values: dict[str, Any], report: FileReport, **key: str
) -> Any:
    """Update a stored row in place, or note a new one in `new` (see _insert_new)."""
    if row is None:
        row = SimpleNamespace(id=None, **key, **values)
        new.append(row)
        report.created += 1
        return row
    if any(getattr(row, k) != v for k, v in values.items()):
        for k, v in values.items():
            setattr(row, k, v)
        row.updated_at = utcnow()
        report.updated += 1
    else:
        report.unchanged += 1
    return row
