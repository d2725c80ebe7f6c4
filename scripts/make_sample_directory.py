"""Writes the sample WFSCP directory (models/sample_directory/wfscp/*.csv) and its history
(models/sample_directory/wfscp/history/history.csv).

SAMPLE DATA: the agencies are those named in seed 004 ("Relevant Agencies" and "The
Statutory Safeguarding Partners"); the 148 schools are invented, in the phases 004 gives
(2 nursery, 122 primary, 20 secondary, 3 special, 1 PRU); every address is @example.org.
The history is what a partnership's year really looks like on 24 November 2026: most past
items done on time with evidence links, some late, a few still overdue, one serious
incident's clock running, S11/S175 returns mostly in and reviewed. It is drawn from a
seeded random generator, so a rerun writes the same files.
Rerun after changing this script: `python scripts/make_sample_directory.py`.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

from govcal.rules.expand import expand
from govcal.rules.loader import load_partnerships
from govcal.rules.model import Event, ExpansionContext, Per, Subject

OUT = Path(__file__).resolve().parent.parent / "models" / "sample_directory" / "wfscp"
HISTORY = OUT / "history" / "history.csv"
AS_OF = date(2026, 11, 24)  # the sample's "today": history stops here
SYNC_START = date(2025, 5, 24)  # 18 months back: the oldest item a first sync creates

STATUTORY = [
    ("wfc", "Westmorland and Furness Council", "local-authority"),
    ("cumbria-police", "Cumbria Constabulary", "police"),
    ("lsc-icb", "Lancashire and South Cumbria Integrated Care Board", "health"),
    ("nenc-icb", "North East and North Cumbria Integrated Care Board", "health"),
]
RELEVANT = [
    ("uhmb", "University Hospitals of Morecambe Bay NHS Foundation Trust", "health", "lsc-icb"),
    ("nci", "North Cumbria Integrated Care NHS Foundation Trust", "health", "nenc-icb"),
    ("hdft", "Harrogate and District NHS Foundation Trust", "health", "lsc-icb"),
    ("primary-care", "Primary Care (GPs)", "health", "lsc-icb"),
    ("nwas", "North West Ambulance Service", "health", "lsc-icb"),
    ("cafcass", "CAFCASS", "justice", "wfc"),
    ("probation", "National Probation Service", "justice", "cumbria-police"),
    ("commissioned-services", "Commissioned Services", "local-authority", "wfc"),
    ("vsrg", "Voluntary Sector Reference Group", "voluntary", "wfc"),
    ("cfrs", "Cumbria Fire and Rescue Service", "fire", "wfc"),
    ("wf-adult-social-care", "Westmorland and Furness Adult Social Care", "local-authority", "wfc"),
    ("wf-public-health", "Westmorland and Furness Public Health", "local-authority", "wfc"),
    ("wf-yjs", "Westmorland and Furness Youth Justice Service", "justice", "wfc"),
    ("active-cumbria", "Sporting Organisations – Active Cumbria", "voluntary", "wfc"),
    ("faith-groups", "Faith Groups", "voluntary", "wfc"),
    ("btp", "British Transport Police", "police", "cumbria-police"),
]
PHASES = [
    ("nursery", 2, "N"),
    ("primary", 122, "P"),
    ("secondary", 20, "S"),
    ("special", 3, "X"),
    ("pru", 1, "R"),
]
PLACES = [
    "Kendal",
    "Barrow",
    "Ulverston",
    "Windermere",
    "Penrith",
    "Appleby",
    "Kirkby",
    "Grange",
    "Sedbergh",
    "Ambleside",
    "Dalton",
    "Askam",
    "Milnthorpe",
    "Shap",
]
LABEL = {
    "nursery": "Nursery School",
    "primary": "Primary School",
    "secondary": "Academy",
    "special": "Special School",
    "pru": "Pupil Referral Unit",
}

LEADERS = [
    # (role, title, agency, acts_for)
    ("lsp", "Chief Executive, Westmorland and Furness Council", "wfc", ""),
    ("lsp", "Chief Constable, Cumbria Constabulary", "cumbria-police", ""),
    ("lsp", "Chief Executive, Lancashire and South Cumbria ICB", "lsc-icb", ""),
    ("lsp", "Chief Executive, North East and North Cumbria ICB", "nenc-icb", ""),
    ("dsp", "Director of Children's Services, Westmorland and Furness Council", "wfc", "lsp-wfc"),
    (
        "dsp",
        "Assistant Chief Constable, Cumbria Constabulary",
        "cumbria-police",
        "lsp-cumbria-police",
    ),
    ("dsp", "Chief Nurse, Lancashire and South Cumbria ICB", "lsc-icb", "lsp-lsc-icb"),
    ("dsp", "Director of Nursing, North East and North Cumbria ICB", "nenc-icb", "lsp-nenc-icb"),
]


def email(local: str) -> str:
    return f"{local}@example.org"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "agencies.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["code", "name", "type", "category", "lead_partner", "sample"])
        for code, name, category in STATUTORY:
            w.writerow([code, name, "statutory-partner", category, code, "yes"])
        for code, name, category, lead in RELEVANT:
            w.writerow([code, name, "relevant-agency", category, lead, "yes"])
    schools = []
    for phase, count, letter in PHASES:
        for i in range(1, count + 1):
            place = PLACES[(i - 1) % len(PLACES)]
            code = f"wf-{letter.lower()}{i:03d}"
            schools.append((code, f"{place} Sample {LABEL[phase]} {i}", phase))
    with open(OUT / "schools.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["code", "name", "phase", "sample"])
        for code, name, phase in schools:
            w.writerow([code, name, phase, "yes"])
    with open(OUT / "people.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["name", "email", "role", "agency", "school", "acts_for", "sample"])
        for role, title, agency, acts_for in LEADERS:
            local = f"{role}-{agency}"
            lead = email(acts_for) if acts_for else ""
            w.writerow([f"{title} (sample)", email(local), role, agency, "", lead, "yes"])
        dcs_title = f"{LEADERS[4][1]} (sample)"  # the same person as the council's DSP
        w.writerow([dcs_title, email("dsp-wfc"), "dcs", "wfc", "", "", "yes"])
        w.writerow(
            [
                "Children's Social Care duty service (sample)",
                email("la-notifications"),
                "la",
                "wfc",
                "",
                "",
                "yes",
            ]
        )
        w.writerow(
            [
                "Partnership Manager (sample)",
                email("partnership-manager"),
                "partnership-manager",
                "",
                "",
                "",
                "yes",
            ]
        )
        # the joint LSP meeting (004): co-chaired by both councils' chief executives, with
        # Cumberland SCP's partnership manager; the Cumberland guests hold no other role
        w.writerow(
            [f"{LEADERS[0][1]} (sample)", email("lsp-wfc"), "co-chairs", "wfc", "", "", "yes"]
        )
        w.writerow(
            [
                "Chief Executive, Cumberland Council (sample)",
                email("chief-executive-cumberland"),
                "co-chairs",
                "",
                "",
                "",
                "yes",
            ]
        )
        w.writerow(
            [
                "Partnership Manager, Cumberland Safeguarding Children Partnership (sample)",
                email("partnership-manager-cumberland"),
                "cumberland-partnership-manager",
                "",
                "",
                "",
                "yes",
            ]
        )
        w.writerow(
            [
                "Partnership Manager (sample)",
                email("partnership-manager"),
                "business-team",
                "",
                "",
                "",
                "yes",
            ]
        )
        w.writerow(
            [
                "Business Support Officer (sample)",
                email("business-team"),
                "business-team",
                "",
                "",
                "",
                "yes",
            ]
        )
        w.writerow(
            [
                "Independent Scrutineer (sample)",
                email("scrutineer"),
                "scrutineer",
                "",
                "",
                "",
                "yes",
            ]
        )
        w.writerow(["CDOP Manager (sample)", email("cdop"), "cdop", "", "", "", "yes"])
        for code, name, _cat, _lead in RELEVANT[:6]:
            w.writerow(
                [
                    f"Executive representative, {name} (sample)",
                    email(f"exec-{code}"),
                    "non-statutory-partners",
                    code,
                    "",
                    "",
                    "yes",
                ]
            )
        for code, name, _cat in STATUTORY:
            w.writerow(
                [
                    f"Safeguarding lead, {name} (sample)",
                    email(f"safeguarding-{code}"),
                    "agency-lead",
                    code,
                    "",
                    "",
                    "yes",
                ]
            )
        for code, name, _cat, _lead in RELEVANT:
            w.writerow(
                [
                    f"Safeguarding lead, {name} (sample)",
                    email(f"safeguarding-{code}"),
                    "agency-lead",
                    code,
                    "",
                    "",
                    "yes",
                ]
            )
        for code, name, _phase in schools:
            w.writerow(
                [
                    f"Designated Safeguarding Lead, {name} (sample)",
                    email(f"dsl-{code}"),
                    "dsl",
                    "",
                    code,
                    "",
                    "yes",
                ]
            )
    write_history(schools)


HISTORY_COLUMNS = [
    "date",
    "action",
    "id",
    "by",
    "evidence",
    "rag",
    "follow_up",
    "follow_up_due",
    "to",
    "note",
]
MANAGER = "Partnership Manager (sample)"
SUPPORT = "Business Support Officer (sample)"
FOLLOW_UPS = [
    "Refresh safeguarding training records for all staff",
    "Update the safer recruitment checklist and re-audit a sample of files",
    "Publish the revised child protection policy on the website",
    "Confirm a deputy designated safeguarding lead is trained",
    "Add the partnership's threshold document to induction",
]
INCIDENTS = [  # (reference, aware on): references only, never a child's details
    ("SI-2026-003", date(2026, 3, 9)),  # clocks met
    ("SI-2026-014", date(2026, 11, 20)),  # notification clock running on 24 November
]
OUTSTANDING = {  # still overdue on AS_OF: a few, as in a real year
    "wfscp:lsp-meeting:2026-11-11",  # minutes awaiting approval
    "wfscp:scrutineer-evaluation:2026-09-30",
}
CANCELLED = [  # (occurrence, cancelled on, reason)
    (
        "wfscp:safeguarding-accountability-meeting:2025-10-14",
        date(2025, 10, 7),
        "Not quorate in the half-term week; its business taken at the December meeting",
    ),
]
RESCHEDULED = [  # (occurrence, new local time, reason)
    (
        "wfscp:safeguarding-accountability-meeting:2026-12-08",
        "2026-12-15 10:00",
        "Chair unavailable on 8 December; moved by agreement of the DSPs",
    ),
]


def _evidence(folder: str, occ_id: str) -> str:
    _p, rule, period, *subject = occ_id.split(":")
    tail = f"{rule}-{period}" + (f"/{subject[0]}" if subject else "")
    return f"https://example.org/wfscp/{folder}/{tail}.pdf"


def history(schools: list[tuple[str, str, str]]) -> list[list[str]]:
    """Deterministic history up to AS_OF, in the order it is applied."""
    rng = random.Random(2026)
    wfscp = next(p for p in load_partnerships() if p.id == "wfscp")
    subjects = {
        Per.AGENCY: tuple(Subject(c, n, "agency") for c, n, _ in STATUTORY)
        + tuple(Subject(c, n, "agency") for c, n, _c, _l in RELEVANT),
        Per.SCHOOL: tuple(Subject(c, n, ph) for c, n, ph in schools),
    }
    names = {s.id: s.name for group in subjects.values() for s in group}
    events = tuple(Event("serious-incident", ref, on) for ref, on in INCIDENTS)
    context = ExpansionContext(subjects=subjects, events=events)
    rows: list[list[str]] = []

    def row(day: date, action: str, occ: str, **extra: str) -> None:
        rows.append(
            [day.isoformat(), action, occ] + [extra.get(c, "") for c in HISTORY_COLUMNS[3:]]
        )

    for ref, on in INCIDENTS:
        row(on, "incident", f"serious-incident:{ref}", by=MANAGER)
    for cycle, opened in (
        ("section-11-audit:2025-10-31", date(2025, 9, 5)),
        ("section-175-audit:2026-03-31", date(2026, 1, 6)),
        ("section-11-audit:2026-10-31", date(2026, 9, 7)),
    ):
        row(opened, "open-cycle", f"wfscp:{cycle}", by=MANAGER)
    done: list[tuple[date, list[str]]] = []
    for occ in sorted(expand(wfscp, SYNC_START, AS_OF, context)):
        occ_id = ":".join(filter(None, ("wfscp", occ.rule, occ.period, occ.subject)))
        if occ_id in OUTSTANDING or (occ.rule == "rapid-review" and occ.due > AS_OF):
            continue
        if occ_id in {c[0] for c in CANCELLED}:
            continue
        roll = rng.random()
        if occ.subject:  # an S11 or S175 return
            open_cycle = occ.due > date(2026, 10, 1)
            if roll < (0.15 if open_cycle else 0.04):
                continue  # not returned yet: overdue
            late = roll > (0.8 if open_cycle else 0.84)
            day = (
                occ.due + timedelta(days=rng.randint(1, 30))
                if late
                else (occ.due - timedelta(days=rng.randint(0, 25)))
            )
            by = (
                f"Designated Safeguarding Lead, {names[occ.subject]} (sample)"
                if occ.rule == "section-175-audit"
                else f"Safeguarding lead, {names[occ.subject]} (sample)"
            )
            evidence = _evidence("returns", occ_id)
        elif occ.starts_at is not None:  # a meeting: held, minutes linked
            late = occ_id == "wfscp:safeguarding-accountability-meeting:2025-10-14"
            day = occ.due + timedelta(days=9 if late else 0)
            by, evidence = MANAGER, _evidence("minutes", occ_id)
        else:
            late = roll > 0.85 and occ.rule not in (
                "annual-report",
                "serious-incident-notification",
            )
            day = (
                occ.due + timedelta(days=rng.randint(1, 6))
                if late
                else (
                    occ.due
                    - timedelta(
                        days=0
                        if occ.rule in ("annual-report", "serious-incident-notification")
                        else rng.randint(0, 3)
                    )
                )
            )
            by = SUPPORT if occ.rule.endswith("papers") else MANAGER
            evidence = _evidence("papers" if "papers" in occ.rule else "reports", occ_id)
        if day > AS_OF:
            continue
        done.append((day, [day.isoformat(), "complete", occ_id, by, evidence]))
        if occ.subject and day < AS_OF - timedelta(days=14) and rng.random() < 0.85:
            rag = rng.choices(["green", "amber", "red"], weights=[70, 25, 5])[0]
            reviewed = day + timedelta(days=rng.randint(3, 12))
            extra = {"by": MANAGER, "rag": rag, "note": f"Return reviewed: {rag}"}
            if rag != "green":
                extra["follow_up"] = rng.choice(FOLLOW_UPS)
                extra["follow_up_due"] = (reviewed + timedelta(days=90)).isoformat()
            done.append(
                (
                    reviewed,
                    [reviewed.isoformat(), "review", occ_id]
                    + [extra.get(c, "") for c in HISTORY_COLUMNS[3:]],
                )
            )
    for occ_id, on, reason in CANCELLED:
        done.append((on, [on.isoformat(), "cancel", occ_id, MANAGER, "", "", "", "", "", reason]))
    done.sort(key=lambda d: d[0])
    for _day, values in done:
        rows.append(values + [""] * (len(HISTORY_COLUMNS) - len(values)))
    for occ_id, to, reason in RESCHEDULED:
        row(date(2026, 11, 16), "reschedule", occ_id, by=MANAGER, to=to, note=reason)
    return rows


def write_history(schools: list[tuple[str, str, str]]) -> None:
    HISTORY.parent.mkdir(parents=True, exist_ok=True)
    with open(HISTORY, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HISTORY_COLUMNS)
        w.writerows(history(schools))


if __name__ == "__main__":
    main()
