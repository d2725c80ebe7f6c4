"""Directory CSV import: bad rows reported by line, good rows imported, re-import updates."""

from __future__ import annotations

from sqlmodel import func, select

from govcal.models import Agency, Delegation, Person, RoleAssignment, School
from govcal.models.db import session_scope
from govcal.models.directory_import import import_directory
from tests.support.paths import SAMPLE_DIRECTORY


def count(url, model, **where):
    with session_scope(url) as s:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return s.exec(query).one()


def run_import(url, path, partnership):
    with session_scope(url) as s:
        return import_directory(s, path, partnership)


def test_sample_directory_imports_cleanly_and_reimport_updates_not_duplicates(db_url, wfscp):
    first = run_import(db_url, SAMPLE_DIRECTORY / "wfscp", wfscp)
    assert [r.kind for r in first] == ["agencies", "schools", "people"]
    assert all(not r.problems for r in first)
    assert count(db_url, School) == 148
    assert count(db_url, School, phase="primary") == 122
    assert count(db_url, School, phase="pru") == 1
    assert count(db_url, Agency) == 20
    assert count(db_url, Agency, type="statutory-partner") == 4
    assert count(db_url, RoleAssignment, role="dsl") == 148
    assert count(db_url, Delegation) == 4  # each DSP acts for their LSP
    people, roles = count(db_url, Person), count(db_url, RoleAssignment)

    again = run_import(db_url, SAMPLE_DIRECTORY / "wfscp", wfscp)
    assert sum(r.created for r in again) == 0 and sum(r.updated for r in again) == 0
    assert (count(db_url, Person), count(db_url, RoleAssignment)) == (people, roles)
    with session_scope(db_url) as s:
        assert all(p.email.endswith("@example.org") and p.is_sample for p in s.exec(select(Person)))


def test_reimport_with_a_changed_name_updates_the_row(db_url, wfscp, tmp_path):
    path = tmp_path / "schools.csv"
    path.write_text("code,name,phase\nwf-p001,Old Name Primary,primary\n", encoding="utf-8")
    run_import(db_url, path, wfscp)
    path.write_text("code,name,phase\nwf-p001,New Name Primary,primary\n", encoding="utf-8")
    [report] = run_import(db_url, path, wfscp)
    assert (report.created, report.updated) == (0, 1)
    with session_scope(db_url) as s:
        assert s.exec(select(School.name)).one() == "New Name Primary"


def test_bad_rows_are_reported_by_line_and_good_rows_still_import(db_url, wfscp, tmp_path):
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "schools.csv").write_text(
        "code,name,phase\n"
        "wf-p001,Kendal Primary,primary\n"
        "wf-p002,Barrow Primary,infant\n"  # line 3: bad phase
        "wf-p001,Kendal Primary again,primary\n"  # line 4: duplicate code
        "wf-s001,Ulverston Academy,secondary\n"
        ',"Multi\nline name",primary\n',  # lines 6-7: no code, line break
        encoding="utf-8",
    )
    (folder / "people.csv").write_text(
        "name,email,role,agency,school\n"
        "Good DSL,dsl.one@example.org,dsl,,wf-p001\n"
        "Bad Email,not-an-email,dsl,,wf-p001\n"  # line 3
        "Unknown School,dsl.two@example.org,dsl,,wf-zzz\n"  # line 4
        "Unknown Role,someone@example.org,headteacher,,wf-p001\n"  # line 5
        "Unknown Agency,lead@example.org,agency-lead,martians,\n",  # line 6
        encoding="utf-8",
    )
    reports = run_import(db_url, folder, wfscp)
    problems = [(p.file.rsplit("/", 1)[-1], p.line, p.message) for r in reports for p in r.problems]
    assert (
        "schools.csv",
        3,
        "phase 'infant' is not one of: nursery, primary, secondary, special, pru",
    ) in problems
    assert any(
        f == "schools.csv" and line == 4 and "already appears on line 2" in m
        for f, line, m in problems
    )
    assert any(f == "schools.csv" and line == 7 for f, line, _m in problems)
    assert any(line == 3 and "email 'not-an-email' is not valid" in m for _f, line, m in problems)
    assert any(line == 4 and "unknown school 'wf-zzz'" in m for _f, line, m in problems)
    assert any(
        line == 5 and "role 'headteacher' is not a role of wfscp" in m for _f, line, m in problems
    )
    assert any(line == 6 and "unknown agency 'martians'" in m for _f, line, m in problems)
    assert count(db_url, School) == 2  # wf-p001 and wf-s001
    assert count(db_url, Person) == 1


def test_a_file_with_a_missing_column_imports_nothing_and_says_which(db_url, wfscp, tmp_path):
    path = tmp_path / "agencies.csv"
    path.write_text("code,name\nnwas,North West Ambulance Service\n", encoding="utf-8")
    [report] = run_import(db_url, path, wfscp)
    [problem] = report.problems
    assert problem.line == 1 and "missing column type" in problem.message
    assert "Nothing was imported" in problem.message
    assert count(db_url, Agency) == 0


def test_windows_1252_file_is_read_with_a_notice(db_url, wfscp, tmp_path):
    path = tmp_path / "schools.csv"
    path.write_bytes("code,name,phase\nwf-p009,Café Primary,primary\n".encode("cp1252"))
    [report] = run_import(db_url, path, wfscp)
    assert not report.problems and report.created == 1
    assert any("not UTF-8" in n for n in report.notices)
    with session_scope(db_url) as s:
        assert s.exec(select(School.name)).one() == "Café Primary"


def test_header_injection_and_overlong_values_are_rejected(db_url, wfscp, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "name,email,role\n"
        '"Evil\r\nBcc: everyone@example.com",evil@example.org,business-team\n'
        f"{'x' * 300},long@example.org,business-team\n"
        "Lead =?utf-8?b?DQpSZXBseS1UbzogYUBldmlsLm9yZw==?= Partner,ew@example.org,business-team\n"
        "Fine Person,fine@example.org,business-team\n",
        encoding="utf-8",
    )
    [report] = run_import(db_url, path, wfscp)
    messages = [p.message for p in report.problems]
    assert any("line break" in m for m in messages)
    assert any("the limit is 200" in m for m in messages)
    assert any(p.line == 5 and "encoded word" in p.message for p in report.problems)
    assert count(db_url, Person) == 1


def test_codes_are_ascii_and_case_folded_so_no_look_alike_makes_a_second_school(
    db_url, wfscp, tmp_path
):
    """`wf-р001` (a Cyrillic р) and `WF-P001` imported as two new schools beside wf-p001,
    at once overdue, and the look-alike could never be completed."""
    path = tmp_path / "schools.csv"
    path.write_text("code,name,phase\nwf-p001,Kendal Primary,primary\n", encoding="utf-8")
    run_import(db_url, path, wfscp)
    path.write_text(
        "code,name,phase\n"
        "wf-\u0440001,Kendal Primary again,primary\n"
        "WF-P001,Kendal Primary School,primary\n",
        encoding="utf-8",
    )
    [report] = run_import(db_url, path, wfscp)
    [(line, message)] = [(p.line, p.message) for p in report.problems]
    assert line == 2 and "CYRILLIC SMALL LETTER ER" in message
    assert "codes are plain ASCII" in message
    assert count(db_url, School) == 1  # WF-P001 is wf-p001, renamed
    assert count(db_url, School, name="Kendal Primary School") == 1


def test_a_look_alike_email_domain_is_accepted_with_a_warning_naming_the_letter(
    db_url, wfscp, tmp_path
):
    path = tmp_path / "people.csv"
    path.write_text(
        "name,email,role\n"
        "Ann,ann@ex\u0430mple.org,business-team\n"
        "Bob,bob@xn--80ak6aa92e.com,business-team\n"
        "Cy,cy@ex\u00e4mple.org,business-team\n",
        encoding="utf-8",
    )
    [report] = run_import(db_url, path, wfscp)
    assert not report.problems
    warned = [n for n in report.notices if "look-alike" in n]
    assert len(warned) == 2  # exämple.org is Latin with an accent: no warning
    assert (
        ":2: the domain of ann@ex\u0430mple.org holds '\u0430' (CYRILLIC SMALL LETTER A)"
        in (warned[0])
    )
    assert ":3:" in warned[1] and "CYRILLIC" in warned[1]
    assert count(db_url, Person) == 3


def test_self_delegation_and_acts_for_circles_are_refused_by_line(db_url, wfscp, tmp_path):
    """acts_for naming oneself, or two people acting for each other, were stored silently
    (who then answers for an escalation?)."""
    path = tmp_path / "people.csv"
    path.write_text(
        "name,email,role,acts_for\n"
        "Ann,ann@example.org,lsp,\n"
        "Bob,bob@example.org,dsp,ann@example.org\n"
        "Cy,cy@example.org,dsp,cy@example.org\n"
        "Ann,ann@example.org,dsp,bob@example.org\n",
        encoding="utf-8",
    )
    [report] = run_import(db_url, path, wfscp)
    problems = {p.line: p.message for p in report.problems}
    assert set(problems) == {4, 5}
    assert "acts_for 'cy@example.org' is this person themselves" in problems[4]
    assert "acts_for 'bob@example.org' acts (directly or through others) for this" in (problems[5])
    assert count(db_url, Delegation) == 1  # Bob for Ann only


def test_a_column_named_twice_imports_nothing_and_names_it(db_url, wfscp, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "name,email,role,Email\nAnn,ann@example.org,lsp,other@example.org\n", encoding="utf-8"
    )
    [report] = run_import(db_url, path, wfscp)
    [problem] = report.problems
    assert problem.line == 1
    assert problem.message.startswith("column 'email' appears more than once")
    assert count(db_url, Person) == 0
