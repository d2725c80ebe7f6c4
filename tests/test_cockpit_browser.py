"""The cockpit in a real browser: a Prefect server on a free loopback port configured as
`govcal serve` configures its own, the deployments from prefect.yaml, a worker,
daily-compliance over the sample, govcal's web app over the same data, and headless
Chromium at 1440x1000 reading what a person sees, in the default UI (V1) and in the
other one (V2)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cockpit_ui import (
    BIN,
    CHROMIUM,
    PREFIX,
    RESUME_BUTTON,
    ROOT,
    UIS,
    Cockpit,
    browser,
    cockpit,
    log_in,
    settle,
    shown_up,
    tables_fit,
    use_ui,
    visible_text,
)
from tests.smtp_server import free_port
from tests.support.markdown import as_shown
from tests.support.paths import SAMPLE_DIRECTORY
from tests.support.processes import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("prefect-server"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs apt-get install chromium"),
]
TABLES = ("compliance-wfscp", "returns-wfscp-section-11-audit", "returns-wfscp-section-175-audit")
PROMOTION = ("Upgrade", "Ready to scale", "Prefect Cloud")
# agencies' names as a directory may hold them, each within the 25 characters a returns
# table shows: V2 shows a cell as text, V1 renders it as markdown
HOSTILE = {
    "wfc": "Harrogate & District",
    "cumbria-police": "<b>x</b> [y](http://e.x)",
    "lsc-icb": "*z* _u_ &amp; \\*w\\* &lt;",
    "nenc-icb": "- x www.e.x a@b.cd ~~d~~",
}
INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff]")  # zero width: nothing on screen
# what a cell would hold had markdown made markup of it (V1's renderer: classed divs)
_CELLS = """() => [...document.querySelectorAll('table tbody tr')].map(row => ({
    cells: [...row.children].map(cell => cell.innerText.trim()),
    markup: [...row.querySelectorAll('*')].filter(e =>
        /^(A|IMG|B|I|EM|STRONG|CODE|DEL|S|UL|OL|LI|H[1-6]|BLOCKQUOTE|HR|PRE)$/.test(e.tagName)
        || [...e.classList].some(c => c.startsWith('markdown-renderer__')
            && !/^markdown-renderer__text(--paragraph|--text)?$/.test(c))
    ).map(e => e.outerHTML)}))"""


def hostile_directory(folder: Path) -> Path:
    """The sample partnership's directory with four agencies named as in HOSTILE."""
    copy = folder / "directory" / "wfscp"
    shutil.copytree(SAMPLE_DIRECTORY / "wfscp", copy)
    path = copy / "agencies.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["name"] = HOSTILE.get(row["code"], row["name"])
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    return copy


def found_row(page, code: str) -> dict:
    """The S11 table's row of agency `code`, found as a person finds it: its code typed
    into the table's search box. Its cells as on screen, and any markup in it."""
    box = page.locator("[data-testid=table-display] input, .artifact-data-table input").first
    shown_up(page, page.locator("table tbody tr").first, "no table")
    seen: list[dict] = []

    def alone():
        if box.input_value() != code:  # typed again if the table was drawn afresh meanwhile
            box.fill(code)
        seen[:] = page.evaluate(_CELLS)
        return seen[0] if len(seen) == 1 and code in seen[0]["cells"] else None

    try:
        return wait_until(alone, 60, f"the row of {code} alone in the table")
    except AssertionError as err:
        raise AssertionError(f"{err}: {[r['cells'] for r in seen]}") from err


@contextmanager
def summary_address(folder: Path, ui: Cockpit, monkeypatch) -> Iterator[str]:
    """govcal's web app over the cockpit's data folder, as `govcal serve` runs it; yields
    the summary's fixed address that `govcal serve` prints."""
    from govcal.flows.runtime import build_runtime, web_secret
    from govcal.models.cockpit_links import cockpit_url
    from govcal.models.settings import get_settings
    from govcal.web.app import create_app
    from govcal.web.serving import Serving

    monkeypatch.setenv("GOVCAL_DATA_DIR", str(folder / "data"))
    monkeypatch.setenv("GOVCAL_UI_URL", ui.base)
    get_settings.cache_clear()
    runtime = build_runtime()
    port = free_port()
    serving = Serving(create_app(runtime), "127.0.0.1", port).start()
    try:
        yield cockpit_url(f"http://127.0.0.1:{port}", web_secret(runtime.settings) or "", "wfscp")
    finally:
        serving.stop()
        get_settings.cache_clear()


@contextmanager
def worker(ui: Cockpit) -> Iterator[None]:
    """A worker left running, as README starts it: a paused run waits in it."""
    process = subprocess.Popen(
        [BIN / "prefect", "worker", "start", "--pool", "govcal"],
        env=ui.env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def test_the_cockpit_reads_well_in_both_prefect_uis(tmp_path, prefect_server_url, monkeypatch):
    with (
        cockpit(tmp_path, prefect_server_url, hostile_directory(tmp_path)) as ui,
        summary_address(tmp_path, ui, monkeypatch) as address,
        browser() as page,
    ):
        summary = ui.artifact("compliance-summary-wfscp")["data"]
        first = next(line for line in summary.splitlines() if line.startswith("- "))
        title = as_shown(first.split("**")[1]).strip()  # the most urgent item
        urgent_id = first.rsplit("`", 2)[1]

        # the address the business team is given opens on the latest summary itself
        page.goto(address)
        settle(page, "Statutory clocks running")
        seen = visible_text(page)
        assert title in seen and urgent_id in seen
        page.get_by_role("link", name="Prefect UI").click()  # one click to the forms
        settle(page, "Login")  # Prefect's own login still guards them
        page.goto(address.rsplit(".", 1)[0])  # without its signature: nothing
        settle(page, "This link cannot be used")
        assert title not in page.content()

        log_in(page, ui.base)  # the server's own address, no UI chosen yet: V1
        settle(page, "Dashboard")
        assert "/v2/" not in page.url and "Switch to V2 UI" in visible_text(page), page.url
        overdue = [  # (title, id) of overdue items a completion can close, from the summary
            (as_shown(line.split("**")[1]).strip(), line.rsplit("`", 2)[1])
            for line in summary.splitlines()
            if line.startswith("- 🔴") and "-audit:" not in line
        ]
        with worker(ui):
            for version in UIS:
                use_ui(page, ui.base, version)
                page.goto(f"{ui.base}{PREFIX[version]}/dashboard")
                settle(page, "Dashboard")
                seen = visible_text(page)
                assert not [p for p in PROMOTION if p in seen], f"{version}: {seen}"

                for key in TABLES:
                    page.goto(ui.artifact_url(key, version))
                    assert tables_fit(page, version) == [], f"{key} in {version}"
                # the table as it stands now: the other UI's pass closed an item with
                # its completion, and the board was posted again without it
                rows = json.loads(ui.artifact("compliance-wfscp")["data"])
                page.goto(ui.artifact_url("compliance-wfscp", version))
                settle(page, rows[0]["Id"])
                # each id of the first page on screen, whole, in the table's order, with
                # its due day and owner (V2 shows ten rows a page)
                on_screen = re.findall(r"wfscp:\S+", visible_text(page))
                first_page = [r["Id"] for r in rows[:10]]
                assert on_screen[: len(first_page)] == first_page, f"{version}: {on_screen}"
                shown = visible_text(page)
                assert all(r["Due"] in shown and r["Owner"] in shown for r in rows[:10])

                # names holding markdown, HTML and entities read as typed, none as markup
                page.goto(ui.artifact_url(TABLES[1], version))
                for code, name in HOSTILE.items():
                    row = found_row(page, code)
                    cells = [INVISIBLE.sub("", cell) for cell in row["cells"]]
                    assert name in cells and not row["markup"], f"{version}: {row}"

                # no id pasted: the run pauses with today's items; the form names its
                # button as this UI labels it, and pressing it records the choice
                target, target_id = overdue.pop(0)
                run_id = ui.run(
                    "record-completion",
                    form=json.dumps(
                        {
                            "evidence": "https://example.org/minutes.pdf",
                            "completed_by": "Partnership Manager",
                        }
                    ),
                )
                ui.paused(run_id)
                said = ui.resume(page, run_id, version, choose=target)
                assert f"then press {RESUME_BUTTON[version]}" in said or (
                    f"({RESUME_BUTTON[version]} in Prefect's V2 UI)" in said
                ), said
                state = ui.finished(run_id)
                assert state["type"] == "COMPLETED", state["message"]
                assert target_id in state["message"]
