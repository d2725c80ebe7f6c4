"""A real Prefect server, govcal's deployments and a headless Chromium, as a person sees
them. Used by the browser test (tests/test_cockpit_browser.py) and by scripts/ui-tour,
which takes the screenshots in docs/screenshots/.

The server listens on a free loopback port and the UI is told that port
(PREFECT_UI_API_URL): otherwise the UI shows "Can't connect to Server API". It asks for
a login, as every server govcal starts or documents does: the API auth string is in
PREFECT_API_AUTH_STRING while it runs (what the prefect CLI and govcal send), calls made
here send it (`api_headers`), and the browser logs in on the UI's login page (`log_in`).
Chromium is Debian's /usr/bin/chromium; Playwright never downloads a browser here.

The server is configured as `govcal serve` configures its own (govcal/prefect_env.py:
V1 by default, no promotional content). Prefect 3.8.8 serves two UIs, V1 at / and V2 at
/v2/; a browser's choice between them is the `prefect_ui_version` cookie that the UI's
own "Switch to V1/V2 UI" sets (`use_ui`), and every helper that opens a page takes the
UI it opens it in.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from govcal.prefect_env import UI_DEFAULTS
from tests.smtp_server import free_port
from tests.support.processes import wait_until

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 1000}
UIS = ("v1", "v2")  # the default first
PREFIX = {"v1": "", "v2": "/v2"}
# the button that sends a paused run's input, as each UI labels it (flows/jobs.py says both)
RESUME_BUTTON = {"v1": "Submit", "v2": "Resume"}


def api_headers() -> dict[str, str]:
    """The login Prefect's client sends: HTTP Basic with the auth string itself."""
    login = os.environ["PREFECT_API_AUTH_STRING"]
    return {"Authorization": f"Basic {base64.b64encode(login.encode()).decode()}"}


def shown_up(page, locator, failure: str, tries: int = 3) -> None:
    """Wait for `locator`, reloading the page as a person would when Prefect's UI comes
    up on its own error screen ("Oops. Something went wrong": seen about one load in
    three when its first API answers were slow) rather than the page asked for."""
    for attempt in range(tries):
        try:
            locator.wait_for(timeout=40_000)
            return
        except Exception as err:
            if attempt == tries - 1:
                raise AssertionError(f"{failure} ({page.url}): {visible_text(page)}") from err
            page.reload()


def log_in(page, base: str) -> None:
    """The UI's login page, as a person uses it: the auth string as the password."""
    page.goto(base)
    password = page.locator("input[type=password]")
    shown_up(page, password, f"no login form at {base}")
    password.fill(os.environ["PREFECT_API_AUTH_STRING"])
    page.get_by_role("button", name="Login").click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)


class Cockpit:
    """A running server with govcal deployed, and helpers to act through it."""

    def __init__(self, base: str, env: dict[str, str]):
        self.base = base  # http://127.0.0.1:PORT
        self.api = f"{base}/api"
        self.env = env

    def cli(self, *args: str | Path, timeout: float = 300) -> str:
        result = subprocess.run(
            [str(a) for a in args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"{args}: {result.stdout}\n{result.stderr}")
        return result.stdout + result.stderr

    def post(self, path: str, body: dict) -> list | dict:
        return httpx.post(f"{self.api}{path}", json=body, headers=api_headers(), timeout=30).json()

    def deployment(self, name: str) -> dict:
        """A deployment by its flow's name (record-completion: "Record a completion")."""
        from govcal.flows.form_names import deployment_of

        found = self.post("/deployments/filter", {"limit": 100})
        return next(d for d in found if d["name"] == deployment_of(name))  # type: ignore[union-attr]

    def run(self, deployment: str, **params: str) -> str:
        from govcal.flows.form_names import deployment_of

        args = [a for k, v in params.items() for a in ("--param", f"{k}={v}")]
        started = self.cli(
            BIN / "prefect", "deployment", "run", f"{deployment}/{deployment_of(deployment)}", *args
        )
        return re.search(r"flow-run/([0-9a-f-]{36})", started).group(1)  # type: ignore[union-attr]

    def work(self) -> None:
        """One worker pass: runs what is scheduled now, then exits."""
        self.cli(BIN / "prefect", "worker", "start", "--pool", "govcal", "--run-once")

    def finished(self, run_id: str, timeout: float = 180) -> dict:
        def final():
            got = httpx.get(f"{self.api}/flow_runs/{run_id}", headers=api_headers(), timeout=10)
            state = got.json()["state"]
            done = state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
            return state if done else None

        return wait_until(final, timeout, f"flow run {run_id}")

    def submit_form(self, page, deployment: str) -> str:
        """Press Submit on a deployment's run form; the UI returns to the deployment
        page. The id of the run the form created."""
        before = {r["id"] for r in self.runs_of(deployment)}
        page.get_by_role("button", name="Submit").click()

        def created() -> str | None:
            return next((r["id"] for r in self.runs_of(deployment) if r["id"] not in before), None)

        return wait_until(created, 180, f"a {deployment} run created by the form")

    def runs_of(self, deployment: str) -> list[dict]:
        found = self.post(
            "/flow_runs/filter",
            {
                "deployments": {"id": {"any_": [self.deployment(deployment)["id"]]}},
                "limit": 50,
            },
        )
        return found  # type: ignore[return-value]

    def paused(self, run_id: str, timeout: float = 180) -> dict:
        def state():
            got = httpx.get(f"{self.api}/flow_runs/{run_id}", headers=api_headers(), timeout=10)
            found = got.json()["state"]
            return found if found["type"] == "PAUSED" else None

        return wait_until(state, timeout, f"flow run {run_id} to pause for input")

    def artifact(self, key: str) -> dict:
        found = self.post(
            "/artifacts/filter",
            {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1},
        )
        return found[0]  # type: ignore[index]

    def artifact_url(self, key: str, ui: str = "v1") -> str:
        return f"{self.base}{PREFIX[ui]}/artifacts/artifact/{self.artifact(key)['id']}"

    def form_url(self, deployment: str) -> str:
        return f"{self.base}/deployments/deployment/{self.deployment(deployment)['id']}/run"

    def run_url(self, run_id: str, ui: str = "v1") -> str:
        return f"{self.base}{PREFIX[ui]}/runs/flow-run/{run_id}"

    def resume(self, page, run_id: str, ui: str, choose: str, before_sending=None) -> str:
        """A paused run's form, as a person finds it in `ui`: V1 has Resume on the run's
        page, V2 behind its ⋮ menu. Chooses the first entry containing `choose`, calls
        `before_sending` (a photograph), presses the form's button (RESUME_BUTTON);
        returns the form's text."""
        page.goto(self.run_url(run_id, ui))
        if ui == "v1":
            page.get_by_role("button", name="Resume").first.click()
        else:
            page.get_by_role("button", name="Open menu").first.click()
            page.get_by_role("menuitem", name="Resume").click()
        form = page.get_by_role("dialog")
        form.get_by_text("Which item?").first.wait_for(timeout=60_000)
        said = form.inner_text()
        if ui == "v1":
            box = form.locator(".p-select-button__control").first
            box.click()
            box.press("ArrowDown")  # opens the list
        else:
            form.get_by_role("button", name="Select").click()
        page.get_by_role("option").filter(has_text=choose).first.click()
        if before_sending is not None:
            before_sending()
        form.get_by_role("button", name=RESUME_BUTTON[ui], exact=True).click()
        return said


@contextmanager
def prefect_server(folder: Path) -> Iterator[str]:
    """A real `prefect server start` on a free loopback port, its home in `folder`, asking
    for a login; yields its base URL (http://127.0.0.1:PORT) once /api/health answers,
    with PREFECT_API_AUTH_STRING set to the login meanwhile."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    login = "govcal:" + secrets.token_urlsafe(16)
    before = os.environ.get("PREFECT_API_AUTH_STRING")
    os.environ["PREFECT_API_AUTH_STRING"] = login
    env = {
        **UI_DEFAULTS,
        **os.environ,
        **_prefect_env(base),
        "PREFECT_HOME": str(folder / "prefect"),
        "PREFECT_SERVER_API_AUTH_STRING": login,
    }
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/api/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 300, "prefect server /api/health")  # 12 s quiet; minutes busy
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        if before is None:
            os.environ.pop("PREFECT_API_AUTH_STRING", None)
        else:
            os.environ["PREFECT_API_AUTH_STRING"] = before


def _prefect_env(base: str) -> dict[str, str]:
    return {
        "PREFECT_API_URL": f"{base}/api",
        "PREFECT_UI_API_URL": f"{base}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


@contextmanager
def cockpit(
    folder: Path, server: str | None = None, directory: Path | None = None
) -> Iterator[Cockpit]:
    """Server started (or the running one at base URL `server`), the sample partnership
    loaded (directory and history) into `folder`/data, `directory` (a partnership's
    folder, as `govcal import` reads it) imported over it, deployments from prefect.yaml,
    and daily-compliance run once by a worker."""
    with ExitStack() as stack:
        base = server or stack.enter_context(prefect_server(folder))
        env = {
            **os.environ,
            **_prefect_env(base),
            "PREFECT_HOME": str(folder / "prefect"),
            "GOVCAL_DATA_DIR": str(folder / "data"),
        }
        ui = Cockpit(base, env)
        # the sample directory and its year of history, as `govcal run` loads them
        ui.cli(
            sys.executable, "-c", "from govcal.cli.run import load_samples_if_empty as load; load()"
        )
        if directory is not None:
            ui.cli(BIN / "govcal", "import", directory)
        ui.cli(BIN / "prefect", "work-pool", "create", "govcal", "--type", "process", "--overwrite")
        ui.cli(BIN / "prefect", "--no-prompt", "deploy", "--all")
        daily = ui.run("daily-compliance")
        ui.work()
        state = ui.finished(daily)
        assert state["type"] == "COMPLETED", state
        yield ui


@contextmanager
def browser() -> Iterator[object]:
    """A 1440x1000 page in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium.new_page(viewport=VIEWPORT)
        finally:
            chromium.close()


def use_ui(page, base: str, ui: str) -> None:
    """The browser's saved choice of UI, as the UI's own switch stores it."""
    page.context.add_cookies([{"name": "prefect_ui_version", "value": ui, "url": base}])


def tables_fit(page, ui: str) -> list[str]:
    """What does not fit on the page's table (every page of it in V2, which shows ten
    rows a page): each box whose content is wider than the box (scrollWidth above
    clientWidth), and each cell whose text is cut. Empty when everything is on screen."""
    shown_up(page, page.locator("table tbody tr").first, "no table")
    page.evaluate("document.fonts.ready.then(() => true)")  # measured in its own fonts
    found: list[str] = []
    while True:
        found += page.evaluate(_MEASURE)
        after = page.get_by_role("button", name="Go to next page")
        if ui == "v1" or not after.count() or after.is_disabled():
            return found
        _next_page(page, after)


def _next_page(page, after) -> None:
    """Press V2's "Go to next page" until its "Page 2 of 15" label moves: at a load
    average of 10-15 a press was lost (the page stayed put for a minute), so one that
    changed nothing in 15 s is pressed again."""
    label = page.get_by_text(re.compile(r"^Page \d+ of \d+$")).first
    shown = label.inner_text()
    for _ in range(4):
        after.click()
        try:
            wait_until(lambda: label.inner_text() != shown, 15, "the next page of the table")
            return
        except AssertionError:
            continue
    raise AssertionError(f"the table stayed at {shown} after four presses of the next page")


def table_width(page) -> str:
    """What the table's rows need (each column's widest text and its cell's padding; on
    the page shown, V2's last) and the width of its box, as the tour prints them beside
    "fits": a table set to its box's width shows only whether it fits, not by how much."""
    return page.evaluate(
        """() => {
        const table = document.querySelector('table');
        const need = [];
        for (const row of table.querySelectorAll('tbody tr')) {
            [...row.children].forEach((cell, i) => {
                const text = document.createRange();
                text.selectNodeContents(cell);
                const style = getComputedStyle(cell);
                const pad = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
                let widest = 0;
                const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
                while (walker.nextNode()) {
                    text.selectNodeContents(walker.currentNode);
                    widest = Math.max(widest, text.getBoundingClientRect().width);
                }
                need[i] = Math.max(need[i] || 0, widest + pad);
            });
        }
        const total = Math.round(need.reduce((a, b) => a + b, 0));
        return `rows need ${total} px of ${table.parentElement.clientWidth} px`;
    }"""
    )


_MEASURE = """() => {
    const out = [];
    for (const table of document.querySelectorAll('table')) {
        for (let el = table; el && el !== document.body; el = el.parentElement) {
            if (el.scrollWidth > el.clientWidth)
                out.push(`${el.tagName} ${el.scrollWidth} px in ${el.clientWidth} px`);
        }
        for (const cell of table.querySelectorAll('td, th')) {
            for (const e of [cell, ...cell.querySelectorAll('*')]) {
                const right = e.getBoundingClientRect().right;
                if (e.scrollWidth > e.clientWidth + 1 || right > innerWidth)
                    out.push(`cut: ${cell.textContent.trim()}`);
            }
        }
    }
    return [...new Set(out)];
}"""


def settle(page, text: str) -> None:
    """The UI is a JavaScript app: wait until `text` is on screen."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")


def visible_text(page) -> str:
    """The text inside the first screen (1440x1000), as a person sees it."""
    return page.evaluate(
        """() => {
        const out = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode;
            const r = node.parentElement.getBoundingClientRect();
            const style = getComputedStyle(node.parentElement);
            if (r.bottom > 0 && r.top < window.innerHeight && r.right > 0
                && r.left < window.innerWidth && style.visibility !== 'hidden'
                && node.textContent.trim()) out.push(node.textContent.trim());
        }
        return out.join('\\n');
    }"""
    )
