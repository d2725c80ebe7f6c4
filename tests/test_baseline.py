"""Statutory baselines: duties written once, partnerships override, opt out or add."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from govcal.rules.baseline import STATUTORY_DIR, Origin, layers_of, load_baseline
from govcal.rules.expand import expand_rule
from govcal.rules.loader import RuleFileError, load_partnership, load_partnerships
from govcal.rules.model import ExpansionContext

D = date.fromisoformat

STATUTORY_IDS = {
    "annual-report",
    "annual-report-sent-on",
    "arrangements-review",
    "section-11-audit",
    "section-175-audit",
    "serious-incident-notification",
    "rapid-review",
    "lcspr-publication",
    "lcspr-sent-to-panel",
    "care-leaver-death-notification",
    "cdop-annual-report",
}

SMALL = """\
partnership:
  id: smallscp
  name: Small Safeguarding Children Partnership
  baseline: wt2023
roles:
  lsp: {name: Lead Safeguarding Partners, who: the three chief executives}
"""


def problems_of(path):
    with pytest.raises(RuleFileError) as caught:
        load_partnerships([path])
    return caught.value.problems


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_partnership_of_a_few_lines_inherits_every_statutory_duty(rule_file):
    [p] = load_partnerships([rule_file(SMALL)])
    assert {r.id for r in p.rules} == STATUTORY_IDS
    assert {r.origin for r in p.rules} == {Origin.INHERITED}
    assert p.roles["lsp"].display_name == "Lead Safeguarding Partners"  # local title wins
    assert p.roles["la"].title == "The local authority"  # the baseline's role
    sent_on = p.rule("annual-report-sent-on")
    context = ExpansionContext(
        completions={("smallscp", "annual-report", "2025-09-30", ""): D("2025-10-10")}
    )
    found = expand_rule(p, sent_on, D("2025-01-01"), D("2025-12-31"), context)
    assert [o.due for o in found] == [D("2025-10-17")]  # within 7 days of publication


def test_every_baseline_duty_cites_the_law_or_the_guidance():
    for name in ("wt2018", "wt2023"):
        [p] = load_partnerships([_write_small(name)])
        for rule in p.rules:
            assert any(
                law in rule.source for law in ("Children Act 2004", "WT20", "Education Act")
            ), (name, rule.id, rule.source)
            assert ("WT2018" in rule.source) == (name == "wt2018") or "Education" in rule.source


def _write_small(baseline: str) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    path = folder / "small.yaml"
    path.write_text(SMALL.replace("wt2023", baseline), encoding="utf-8")
    return path


def test_an_override_changes_a_duty_by_id_and_keeps_the_rest(rule_file):
    text = (
        SMALL
        + """\
overrides:
  - id: section-11-audit
    schedule: {every: every 2 years, start: 2026-05-31}
    notes: Two-year cycle agreed by the partners
"""
    )
    [p] = load_partnerships([rule_file(text)])
    s11 = p.rule("section-11-audit")
    assert s11.origin == Origin.OVERRIDDEN
    assert s11.per is not None and s11.owner == "agency-lead"  # kept from the baseline
    assert s11.notes == "Two-year cycle agreed by the partners"
    assert [o.due for o in expand_rule(p, s11, D("2026-01-01"), D("2030-12-31"))] == [
        D("2026-05-31"),
        D("2028-05-31"),
        D("2030-05-31"),
    ]
    layers = layers_of(p)
    assert layers.overridden == ("section-11-audit",) and len(layers.inherited) == 10


def test_opting_out_needs_a_reason(rule_file):
    text = SMALL + "opt_out:\n  - id: section-175-audit\n"
    [problem] = problems_of(rule_file(text))
    assert "'reason' is missing" in problem.message
    assert problem.line == line_of(text, "- id: section-175-audit")
    text = SMALL + "opt_out:\n  - id: section-175-audit\n    reason: ' '\n"
    [problem] = problems_of(rule_file(text))
    assert "needs a reason in words" in problem.message
    text = SMALL + "opt_out:\n  - id: section-175-audit\n    reason: No schools in the area\n"
    [p] = load_partnerships([rule_file(text)])
    assert "section-175-audit" not in {r.id for r in p.rules}
    assert p.opted_out == (
        ("section-175-audit", "Section 175 safeguarding audit", "No schools in the area"),
    )


@pytest.mark.parametrize(
    ("extra", "needle", "expected"),
    [
        (
            "obligations:\n  - id: annual-report\n    title: x\n    kind: action\n"
            "    owner: lsp\n    schedule: {once: 2026-01-01}\n    evidence: x\n    source: x\n",
            "- id: annual-report",
            "is a duty of baseline wt2023 (rules/statutory/wt2023.yaml:",
        ),
        (
            "overrides:\n  - id: annual-reprot\n    notes: x\n",
            "- id: annual-reprot",
            "override 'annual-reprot' is not a duty of baseline wt2023",
        ),
        (
            "opt_out:\n  - id: s11\n    reason: x\n",
            "- id: s11",
            "opt_out 's11' is not a duty of baseline wt2023",
        ),
        (
            "overrides:\n  - id: rapid-review\n    schedule: {rule: serious-incident-notification,"
            " within: 15 workin days}\n",
            "schedule: {rule",
            "offset '15 workin days'",
        ),
        ("overrides:\n  - id: rapid-review\n    ownr: lsp\n", "ownr: lsp", "unknown key 'ownr'"),
    ],
)
def test_overlay_problems_name_the_partnership_file_and_line(rule_file, extra, needle, expected):
    text = SMALL + extra
    path = rule_file(text)
    [problem] = problems_of(path)
    assert problem.file.endswith("test.yaml"), problem
    assert problem.line == line_of(text, needle)
    assert expected in problem.message


def test_an_unknown_baseline_is_named_with_the_known_ones(rule_file):
    text = SMALL.replace("wt2023", "wt2031")
    [problem] = problems_of(rule_file(text))
    assert problem.line == line_of(text, "baseline: wt2031")
    assert "baseline 'wt2031' is unknown; known baselines: wt2018, wt2023" in problem.message


def test_opting_out_of_what_another_duty_counts_from_is_reported(rule_file):
    text = SMALL + "opt_out:\n  - id: annual-report\n    reason: Reported jointly elsewhere\n"
    problems = problems_of(rule_file(text))
    assert [p.file for p in problems] == [str(Path("rules/statutory/wt2023.yaml"))] or all(
        p.file.endswith("wt2023.yaml") for p in problems
    )
    assert "counts from rule 'annual-report', which does not exist" in problems[0].message


def test_overrides_without_a_baseline_are_refused(rule_file):
    text = SMALL.replace("  baseline: wt2023\n", "") + "overrides:\n  - id: rapid-review\n"
    problems = problems_of(rule_file(text))
    assert any("name it first" in p.message for p in problems)


def test_the_shipped_baselines_load_and_share_their_ids():
    ids = []
    for name in ("wt2018", "wt2023"):
        baseline, problems = load_baseline(name)
        assert baseline is not None and not problems
        ids.append([o["id"] for o in baseline.doc.data["obligations"]])
    assert ids[0] == ids[1]  # moving from one edition to the next keeps history's ids
    assert sorted(p.stem for p in STATUTORY_DIR.glob("*.yaml")) == ["wt2018", "wt2023"]


def test_shipped_partnerships_name_their_baselines():
    assert load_partnership("wfscp").baseline == "wt2023"
    assert load_partnership("cscp-2019").baseline == "wt2018"
    assert load_partnership("cscp-2023").baseline == "wt2018"
    assert load_partnership("cumbria-lscb-2014").baseline is None  # before the duties existed


def test_rules_check_shows_what_each_partnership_inherits_overrides_and_opts_out_of():
    result = subprocess.run(
        [sys.executable, "-m", "govcal.cli", "rules", "check", "--as-of", "2026-11-24"],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "250", "PATH": ""},
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr
    rows = {
        line.split("│")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    }
    wfscp = [c.strip() for c in rows["wfscp"].split("│")[1:-1]]
    assert wfscp[4:9] == ["wt2023", "7", "4", "11", "0"], wfscp
    assert "wfscp: overrides annual-report, arrangements-review" in result.stdout
    assert "cscp-2019: opted out of arrangements-review of wt2018: 000 and 003 set no" in (
        " ".join(result.stdout.split())
    )


def test_every_baseline_duty_has_a_citation_in_the_form_the_loader_expects():
    """Each duty names an Act's section or a guidance chapter; a paragraph, if any, is
    written `WT2023 paragraph N` with the page it was read on right above the duty."""
    from govcal.rules.baseline import PARAGRAPH, citation_problem, citation_problems, comments_above
    from govcal.rules.yamlsource import parse_yaml

    for name in ("wt2018", "wt2023"):
        text = (STATUTORY_DIR / f"{name}.yaml").read_text(encoding="utf-8")
        doc = parse_yaml(text)
        assert citation_problems(doc, text, name) == []
        for item in doc.data["obligations"]:
            source = " ".join(item["source"].split())
            assert citation_problem(source) is None, (name, item["id"])
            for cited in PARAGRAPH.findall(source):
                assert cited.startswith(name.upper()), (name, item["id"], cited)
        # every duty says which page confirmed it, or that none did
        lines = text.splitlines()
        for i, item in enumerate(doc.data["obligations"]):
            above = comments_above(lines, doc.line_of(("obligations", i)))
            assert "# verified_from: http" in above or "# unverified" in above, (name, item["id"])


LOOSE = """\
baseline: {id: wt2023, name: Test}
roles: {la: The local authority}
obligations:
  - id: first
    title: A duty
    kind: action
    owner: la
    schedule: {once: 2026-01-31}
    evidence: A record
    source: WT2023 chapter 2, para 12
  # verified_from: https://example.org/wt2023
  - id: second
    title: A duty
    kind: action
    owner: la
    schedule: {once: 2026-01-31}
    evidence: A record
    source: WT2023 chapter 5 paragraph 40
  - id: third
    title: A duty
    kind: action
    owner: la
    schedule: {once: 2026-01-31}
    evidence: A record
    source: WT2023 paragraph 41
"""


def test_a_loose_or_unsourced_paragraph_is_refused_on_its_line():
    from govcal.rules.baseline import citation_problems
    from govcal.rules.yamlsource import parse_yaml

    problems = citation_problems(parse_yaml(LOOSE), LOOSE, "wt-test.yaml")
    found = [(p.line, p.message) for p in problems]
    assert len(found) == 2
    assert found[0][0] == line_of(LOOSE, "para 12")
    assert "'para 12'" in found[0][1] and "'WT2023 paragraph 123'" in found[0][1]
    assert found[1][0] == line_of(LOOSE, "paragraph 41")  # 'second' has its page above
    assert "verified_from" in found[1][1] and "'third'" in found[1][1]
