"""Writes the sample WFSCP directory (models/sample_directory/wfscp/*.csv).

SAMPLE DATA: the agencies are those named in seed 004 ("Relevant Agencies" and "The
Statutory Safeguarding Partners"); the 148 schools are invented, in the phases 004 gives
(2 nursery, 122 primary, 20 secondary, 3 special, 1 PRU); every address is @example.org.
Rerun after changing this script: `python scripts/make_sample_directory.py`.
"""

from __future__ import annotations

import csv
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "models" / "sample_directory" / "wfscp"

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
PHASES = [("nursery", 2, "N"), ("primary", 122, "P"), ("secondary", 20, "S"),
          ("special", 3, "X"), ("pru", 1, "R")]  # fmt: skip
PLACES = ["Kendal", "Barrow", "Ulverston", "Windermere", "Penrith", "Appleby", "Kirkby",
          "Grange", "Sedbergh", "Ambleside", "Dalton", "Askam", "Milnthorpe", "Shap"]  # fmt: skip
LABEL = {"nursery": "Nursery School", "primary": "Primary School", "secondary": "Academy",
         "special": "Special School", "pru": "Pupil Referral Unit"}  # fmt: skip

LEADERS = [
    # (role, title, agency, acts_for)
    ("lsp", "Chief Executive, Westmorland and Furness Council", "wfc", ""),
    ("lsp", "Chief Constable, Cumbria Constabulary", "cumbria-police", ""),
    ("lsp", "Chief Executive, Lancashire and South Cumbria ICB", "lsc-icb", ""),
    ("lsp", "Chief Executive, North East and North Cumbria ICB", "nenc-icb", ""),
    ("dsp", "Director of Children's Services, Westmorland and Furness Council", "wfc", "lsp-wfc"),
    ("dsp", "Assistant Chief Constable, Cumbria Constabulary", "cumbria-police",
     "lsp-cumbria-police"),
    ("dsp", "Chief Nurse, Lancashire and South Cumbria ICB", "lsc-icb", "lsp-lsc-icb"),
    ("dsp", "Director of Nursing, North East and North Cumbria ICB", "nenc-icb", "lsp-nenc-icb"),
]  # fmt: skip


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
        w.writerow(["Children's Social Care duty service (sample)", email("la-notifications"),
                    "la", "wfc", "", "", "yes"])  # fmt: skip
        w.writerow(["Partnership Manager (sample)", email("partnership-manager"),
                    "partnership-manager", "", "", "", "yes"])  # fmt: skip
        w.writerow(["Partnership Manager (sample)", email("partnership-manager"),
                    "business-team", "", "", "", "yes"])  # fmt: skip
        w.writerow(["Business Support Officer (sample)", email("business-team"),
                    "business-team", "", "", "", "yes"])  # fmt: skip
        w.writerow(["Independent Scrutineer (sample)", email("scrutineer"), "scrutineer",
                    "", "", "", "yes"])  # fmt: skip
        w.writerow(["CDOP Manager (sample)", email("cdop"), "cdop", "", "", "", "yes"])
        for code, name, _cat, _lead in RELEVANT[:6]:
            w.writerow([f"Executive representative, {name} (sample)", email(f"exec-{code}"),
                        "non-statutory-partners", code, "", "", "yes"])  # fmt: skip
        for code, name, _cat in STATUTORY:
            w.writerow([f"Safeguarding lead, {name} (sample)", email(f"safeguarding-{code}"),
                        "agency-lead", code, "", "", "yes"])  # fmt: skip
        for code, name, _cat, _lead in RELEVANT:
            w.writerow([f"Safeguarding lead, {name} (sample)", email(f"safeguarding-{code}"),
                        "agency-lead", code, "", "", "yes"])  # fmt: skip
        for code, name, _phase in schools:
            w.writerow([f"Designated Safeguarding Lead, {name} (sample)", email(f"dsl-{code}"),
                        "dsl", "", code, "", "yes"])  # fmt: skip


if __name__ == "__main__":
    main()
