"""Bad rule files: every problem reported at once, with file, line and what to do."""

from __future__ import annotations

import pytest

from govcal.rules.loader import RuleFileError, load_partnerships
from tests.support.rules import VALID_HEADER, VALID_RULE, problems_of


def rule_with(**fields):
    """A valid rule with some lines replaced: fields map a key to its new YAML text."""
    text = VALID_RULE
    for key, value in fields.items():
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith(f"{key}:") or line.strip().startswith(f"- {key}:"):
                indent = line[: len(line) - len(line.lstrip())]
                prefix = "- " if line.strip().startswith("- ") else ""
                lines[i] = f"{indent}{prefix}{key}: {value}"
        text = "\n".join(lines) + "\n"
    return text


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def test_a_valid_file_loads(rule_file):
    [partnership] = load_partnerships([rule_file(VALID_HEADER + VALID_RULE)])
    assert partnership.rule("lsp-meeting").title == "LSP meeting"


def test_misspelt_schedule_names_file_line_and_what_is_expected(rule_file):
    text = VALID_HEADER + rule_with(every="evry 2 months")
    path = rule_file(text)
    [problem] = problems_of(path)
    assert problem.file.endswith("test.yaml")
    assert problem.line == line_of(text, "schedule:")
    assert "schedule 'evry 2 months' is not understood; expected" in problem.message
    assert "every 2 months" in problem.message
    assert str(problem).startswith(f"{problem.file}:{problem.line}: ")


def test_yaml_syntax_error_reports_its_line(rule_file):
    text = VALID_HEADER + VALID_RULE + "  - id: broken\n    title: [unclosed\n"
    [problem] = problems_of(rule_file(text))
    assert "YAML syntax error" in problem.message
    assert problem.line >= line_of(text, "title: [unclosed")


def test_unknown_key_is_an_error_not_silently_ignored(rule_file):
    text = VALID_HEADER + VALID_RULE.replace("    source:", "    sourse: x\n    source:")
    [problem] = problems_of(rule_file(text))
    assert problem.line == line_of(text, "sourse:")
    assert "unknown key 'sourse'" in problem.message and "source" in problem.message


def test_rule_without_source_is_invalid(rule_file):
    text = VALID_HEADER + "\n".join(
        line for line in VALID_RULE.splitlines() if "source:" not in line
    )
    [problem] = problems_of(rule_file(text))
    assert "'source' is missing in obligation 'lsp-meeting'" in problem.message
    assert "cite" in problem.message
    assert problem.line == line_of(text, "- id: lsp-meeting")


def test_empty_source_is_invalid(rule_file):
    [problem] = problems_of(rule_file(VALID_HEADER + rule_with(source='"  "')))
    assert "empty source" in problem.message


def test_wrong_type_is_reported_with_its_field(rule_file):
    text = VALID_HEADER + rule_with(title="[a, list]")
    [problem] = problems_of(rule_file(text))
    assert problem.line == line_of(text, "title:")
    assert "obligations.0.title" in problem.message and "string" in problem.message


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("once: 2025-02-30", "'2025-02-30' is not a real date"),
        ("dates: [2025-02-30]", "'2025-02-30' is not a real date"),
        ("every: monthly\n      start: 2026-13-01", "'2026-13-01' is not a real date"),
        (
            "rrule: FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30\n      start: 2026-01-01",
            "never produces a date",
        ),
        (
            "every: monthly\n      start: 2026-01-01\n      count: 0",
            "count: 0 makes no occurrences",
        ),
        ("every: every 0 months\n      start: 2026-01-01", "at least 1"),
        ("every: five times a year\n      start: 2026-01-01", "does not divide the year"),
        ("every: monthly\n      start: 2026-06-01\n      until: 2026-01-01", "is before start"),
        ("every: monthly", "needs start:"),
        ("every: monthly\n      rrule: FREQ=MONTHLY\n      start: 2026-01-01", "not both"),
        ("rrule: FREQ=SOMETIMES\n      start: 2026-01-01", "is not valid RFC 5545"),
        ("every: monthly\n      start: 2026-01-30", "some months lack"),
        ("every: monthly\n      start: 2026-01-01\n      from: whenever", "from: 'whenever'"),
        ("rrule: FREQ=YEARLY\n      start: 2026-01-01\n      from: completion", "needs an every:"),
        ("event: serious-incident\n      within: 5 workin days", "offset '5 workin days'"),
        (
            "event: alien-landing\n      within: 5 working days",
            "event 'alien-landing' is not declared",
        ),
        ("event: serious-incident", "exactly one of within:, after: or before:"),
        ("rule: lsp-meeting\n      after: 1 month\n      basis: whenever", "basis 'whenever'"),
        ("once: 2026-01-01\n      within: 5 days", "cannot be used in a schedule"),
        ("start: 2026-01-01", "schedule needs one of"),
        ("once: 2026-01-01T10:00+01:00", "carries a UTC offset"),
        ("dates: [2026-01-01, 2026-01-01]", "the same date twice"),
    ],
)
def test_impossible_or_unclear_schedules(rule_file, schedule, expected):
    rule = VALID_RULE.replace(
        "      every: quarterly\n      start: 2026-01-14 10:00\n", f"      {schedule}\n"
    ).replace("id: lsp-meeting", "id: bad-rule")
    text = VALID_HEADER + VALID_RULE + rule
    problems = problems_of(rule_file(text))
    assert any(expected in p.message for p in problems), [str(p) for p in problems]
    schedule_line = (
        line_of(text.split("id: bad-rule")[1], "schedule:") + line_of(text, "id: bad-rule") - 1
    )
    assert any(p.line >= schedule_line for p in problems)


def test_duplicate_rule_ids_name_both_lines(rule_file):
    text = VALID_HEADER + VALID_RULE + VALID_RULE
    [problem] = problems_of(rule_file(text))
    assert "rule id 'lsp-meeting' is used twice (first on line 13)" in problem.message
    assert problem.line == 23


def test_duplicate_yaml_keys_are_reported(rule_file):
    text = VALID_HEADER + VALID_RULE.replace(
        "    kind: meeting", "    kind: meeting\n    kind: audit"
    )
    [problem] = problems_of(rule_file(text))
    assert "key 'kind' appears twice" in problem.message
    assert problem.line == line_of(text, "kind: audit")


def test_owner_and_attendee_roles_must_be_declared(rule_file):
    text = VALID_HEADER + rule_with(owner="nobody", attendees="[lsp, ghost]")
    problems = problems_of(rule_file(text))
    messages = " | ".join(p.message for p in problems)
    assert "owner role 'nobody'" in messages and "declared roles: lsp" in messages
    assert "attendee role 'ghost'" in messages


def test_unknown_kind_lists_the_kinds(rule_file):
    [problem] = problems_of(rule_file(VALID_HEADER + rule_with(kind="party")))
    assert "kind 'party' is not one of: meeting, audit, publication, review, report, action" in (
        problem.message
    )


def test_missing_and_circular_rule_references(rule_file):
    a = VALID_RULE.replace("id: lsp-meeting", "id: a").replace(
        "      every: quarterly\n      start: 2026-01-14 10:00\n",
        "      rule: b\n      after: 1 month\n",
    )
    b = a.replace("id: a", "id: b").replace("rule: b", "rule: a")
    c = a.replace("id: a", "id: c").replace("rule: b", "rule: missing")
    text = VALID_HEADER + a + b + c
    messages = [p.message for p in problems_of(rule_file(text))]
    assert any("circular reference: a -> b -> a" in m for m in messages)
    assert any("counts from rule 'missing', which does not exist" in m for m in messages)


def test_default_ladder_needs_its_roles(rule_file):
    text = VALID_HEADER.replace(
        "  dsp: Delegated Safeguarding Partners\n", ""
    ) + VALID_RULE.replace("[lsp, dsp]", "[lsp]")
    problems = problems_of(rule_file(text))
    assert any("names role 'dsp'" in p.message and "escalation" in p.message for p in problems)


def test_escalation_override_is_validated(rule_file):
    rule = VALID_RULE + "    escalation:\n      - day: 7\n        to: [lsp]\n      - day: 3\n"
    rule += "        to: [ghost]\n"
    messages = [p.message for p in problems_of(rule_file(VALID_HEADER + rule))]
    assert any("rising order" in m for m in messages)
    assert any("names role 'ghost'" in m for m in messages)


def test_every_problem_in_every_file_is_reported_and_nothing_loads(rule_file):
    good = rule_file(VALID_HEADER + VALID_RULE, "good.yaml")
    bad1 = rule_file(
        VALID_HEADER.replace("testscp", "one") + rule_with(every="evry 2 months", kind="party"),
        "bad1.yaml",
    )
    bad2 = rule_file("partnership: [", "bad2.yaml")
    problems = problems_of(good, bad1, bad2)
    assert {p.file.rsplit("/", 1)[-1] for p in problems} == {"bad1.yaml", "bad2.yaml"}
    assert len(problems) == 3
    with pytest.raises(RuleFileError, match="nothing was loaded"):
        load_partnerships([good, bad1])


def test_two_files_may_not_claim_the_same_partnership(rule_file):
    one = rule_file(VALID_HEADER + VALID_RULE, "one.yaml")
    two = rule_file(VALID_HEADER + VALID_RULE, "two.yaml")
    [problem] = problems_of(one, two)
    assert "partnership id 'testscp' is already used by" in problem.message


def test_bad_timezone_empty_file_and_missing_file(rule_file, tmp_path):
    text = VALID_HEADER.replace("Europe/London", "Europe/Londn") + VALID_RULE
    [tz] = problems_of(rule_file(text))
    assert "time zone 'Europe/Londn' is unknown" in tz.message and tz.line == 4
    [empty] = problems_of(rule_file("", "empty.yaml"))
    assert "empty" in empty.message
    [missing] = problems_of(tmp_path / "nope.yaml")
    assert "file not found" in missing.message


def test_non_utf8_file_is_reported(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes((VALID_HEADER + VALID_RULE).replace("Test", "Tést").encode("latin-1"))
    [problem] = problems_of(path)
    assert "not UTF-8" in problem.message


def test_top_level_must_be_a_mapping(rule_file):
    [problem] = problems_of(rule_file("- just\n- a list\n"))
    assert "expected a mapping" in problem.message


def test_unknown_key_at_top_level_and_in_schedule(rule_file):
    text = VALID_HEADER.replace("roles:", "colour: blue\nroles:") + VALID_RULE.replace(
        "      every: quarterly", "      every: quarterly\n      evry: 2 months"
    )
    messages = [str(p) for p in problems_of(rule_file(text))]
    assert any("unknown key 'colour'" in m and "obligations" in m for m in messages)
    assert any("unknown key 'evry'" in m and "rrule" in m for m in messages)
