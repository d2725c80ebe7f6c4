"""The web app under load: 200 people opening and confirming their links at once, and
1,000 calendar subscribers polling their feeds (If-None-Match: 304).

    nice .venv/bin/python -m bench.web [--people 200] [--subscribers 1000] [--workers N]
        [--backend postgresql [--postgres ADMIN_URL]]

Each side serves the sample on the embedded SQLite with the S175 reminders of 3 March
2027 in its outbox (148 schools, each with its own link, and the day's other links),
in processes of its own (uvicorn, as `govcal web` runs it):

- `before`: the code at --before (7f7c62e, the main line before the app's load work),
  one worker: the baseline, measured in the same run;
- `after, 1 worker` and `after, N workers` (N from --workers, default one per core).

With `--backend postgresql` the after sides run on PostgreSQL instead: a private cluster
as bench/backends.py starts it (its CPU counted with the server's), or the server
--postgres names; each load on a copy of a prepared template database.

Three loads per side, each on a fresh copy of the data:

- `serial`: one request at a time (each link opened and confirmed, then 1,000 polls):
  what a request costs with nothing queued, in time and in the server's CPU time
  (from /proc: the figure a busy machine disturbs least).
- `shape` (locust, bench/web_locust.py): every person opens their link, reads the page
  for 5-20 s, presses the button and reads the answer, all opening within --arrive
  seconds (10); meanwhile 1,000 subscribers poll every --poll-every seconds (300: a rate of
  3.3 polls a second), each at its own phase, for --duration seconds.
- `burst` (wrk, bench/web_burst.lua): no think time: every link opened at the same
  instant on a server just started, then again; every button pressed at the same
  instant, then again; then 1,000 polls, 100 at a time.

Prints p50/p95/max of each kind of request per side, and the audit trail's check:
each confirmed answer recorded exactly once (none lost, none doubled).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, closing
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2027, 3, 3)
NOW = datetime(2027, 3, 3, 12, tzinfo=UTC)
BEFORE = "7f7c62e"  # the main line before the load work: bench/README's baseline
SERVER = """
import sys, uvicorn
sys.path.insert(0, {tree!r})
options = dict(host="127.0.0.1", port={port}, access_log=False, log_level="warning",
               http={http!r})
if {workers} == 1:
    from bench.web_server import app
    uvicorn.run(app(), **options)
else:
    from govcal.web.worker import run_workers
    run_workers("bench.web_server:app", {workers}, **options)
"""


def _percentiles(times: list[float]) -> dict[str, float]:
    if not times:
        return {"n": 0}
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def _prepare(folder: Path) -> dict:
    """The sample's data folder with the day's messages sent; the links as paths."""
    port = 9  # links name a port; the client uses their paths on whichever port serves
    os.environ.update(
        {
            "GOVCAL_DATA_DIR": str(folder / "data"),
            "GOVCAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK": "true",
        }
    )
    from govcal.cli.run import load_samples_if_empty
    from govcal.flows.runtime import build_runtime
    from govcal.flows.steps import publish_feeds
    from govcal.models.db import session_scope
    from govcal.models.feed_tokens import all_feed_tokens
    from govcal.models.served_feeds import by_token
    from govcal.models.settings import get_settings
    from tests.support.web import day_sent

    load_samples_if_empty(history=False)
    day_sent(folder / "outbox", DAY, NOW)
    with session_scope(get_settings()) as session:
        publish_feeds(session, build_runtime().partnerships, DAY, folder / "data" / "feeds")
    links = set()
    pattern = re.compile(rf"http://127\.0\.0\.1:{port}(/a/[A-Za-z0-9_.-]+)")
    for path in (folder / "outbox").glob("*.eml"):
        links.update(pattern.findall(path.read_text()))
    feeds = []
    with session_scope(get_settings()) as session:
        for row in all_feed_tokens(session):
            found = by_token(session, row.token)  # a holder with nothing in it has none
            if found is not None:
                feeds.append([f"/feeds/{row.token}.ics", f'"{found.etag}"'])
    return {"links": sorted(links), "feeds": feeds}


class Side:
    """One server under test: a code tree, a worker count, a fresh copy of the data (and
    of the PostgreSQL database `pg` names, when it runs on one)."""

    def __init__(
        self,
        name: str,
        tree: Path,
        workers: int,
        data: Path,
        work: Path,
        http: str = "auto",
        pg: Postgres | None = None,
    ) -> None:
        from tests.smtp_server import free_port

        self.name, self.tree, self.workers, self.pg = name, tree, workers, pg
        self.data = work / "data"
        shutil.copytree(data, self.data)
        env = os.environ | {"GOVCAL_DATA_DIR": str(self.data), "PYTHONPATH": str(tree)}
        self.url = ""
        if pg is None:
            _known_to(tree, self.data / "govcal.db")
        else:
            self.url = pg.copy(work.name)
            env["GOVCAL_DATABASE_URL"] = self.url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        code = SERVER.format(tree=str(tree), port=self.port, workers=workers, http=http)
        self.process = subprocess.Popen([sys.executable, "-c", code], cwd=tree, env=env)

    def __enter__(self) -> Side:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"{self.base}/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise OSError(f"{self.name}: the app did not start")

    def __exit__(self, *_exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        if self.pg is not None:
            self.pg.drop(self.url)

    def cpu(self) -> float:
        """CPU seconds the server's processes (the workers too) have used so far: what a
        request costs, whatever else the machine is doing."""
        tick = os.sysconf("SC_CLK_TCK")
        total, wanted = 0.0, {self.process.pid}
        if self.pg is not None:  # the database server's backends work for it too
            from bench.backends import server_cpu

            total += server_cpu(self.pg.postmaster)
        for entry in os.listdir("/proc"):
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if entry.isdigit() and (int(entry) in wanted or int(fields[1]) in wanted):
                total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def audit(self, confirmed: list[str]) -> dict:
        """Each link's answer in the trail at most once, and every confirmed one there."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url or f"sqlite:///{self.data / 'govcal.db'}")
        with engine.connect() as db:
            rows = db.execute(
                text("SELECT actor, entity_id FROM audit_trail WHERE action = 'email-link-used'")
            ).all()
            used = db.execute(text("SELECT id FROM action_link WHERE used_at IS NOT NULL")).all()
        engine.dispose()
        per_link = Counter(rows)
        ids = {path.rsplit("/", 1)[1].split(".")[0] for path in confirmed}
        lost = len(ids - {r[0] for r in used})
        doubled = sum(1 for n in per_link.values() if n > 1)
        return {"answers": len(rows), "confirmed": len(confirmed), "lost": lost, "doubled": doubled}


class Postgres:
    """A PostgreSQL server for the sides (bench/backends.py's private cluster, or the
    one --postgres names): the prepared data as a template, a copy of it per load."""

    def __init__(self, admin: str, postmaster: int | None, work: Path) -> None:
        from bench.backends import new_database

        self.admin, self.postmaster, self.work = admin, postmaster, work
        self.template = new_database("postgresql", work, admin, "web_prepared")

    def copy(self, name: str) -> str:
        from bench.backends import new_database

        return new_database("postgresql", self.work, self.admin, name, self.template)

    def drop(self, url: str) -> None:
        from bench.backends import drop

        drop(url, self.admin)


def _shape(side: Side, inputs: dict, args, work: Path) -> dict:
    people = inputs["links"][: args.people]
    given = work / "in.json"
    given.write_text(json.dumps({"links": people, "feeds": inputs["feeds"]}))
    out = work / "out.json"
    users = len(people) + args.subscribers
    env = os.environ | {
        "GOVCAL_BENCH_IN": str(given),
        "GOVCAL_BENCH_OUT": str(out),
        "GOVCAL_BENCH_POLL_EVERY": str(args.poll_every),
        "GOVCAL_BENCH_ARRIVE": str(args.arrive),
    }
    subprocess.run(
        [
            str(Path(sys.executable).with_name("locust")),
            "-f",
            str(ROOT / "bench" / "web_locust.py"),
            "--headless",
            "--only-summary",
            "--host",
            side.base,
            "--users",
            str(users),
            "--spawn-rate",
            str(max(100, users // 2)),
            "--run-time",
            f"{args.duration}s",
            "--stop-timeout",
            "30",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=args.duration + 300,
    )
    result = json.loads(out.read_text())
    times = result["times"]
    confirmed = [o["link"] for o in result["outcomes"] if o["confirm"] == 303]
    return {
        "people": len(people),
        "subscribers": args.subscribers,
        "open": _percentiles(times.get("open", [])),
        "confirm": _percentiles(times.get("confirm", [])),
        "recorded page": _percentiles(times.get("recorded page", [])),
        "feed 304": _percentiles(times.get("feed 304", [])),
        "errors": dict(Counter(result["errors"])),
        "audit": side.audit(confirmed),
    }


_FORM = {"evidence": "https://example.org/return.pdf", "note": "seen", "answer": "coming"}


def _wrk(base: str, lines: list[str], at_once: int, place: Path, name: str) -> dict:
    """One round sent by wrk (bench/web_burst.lua): every line once, `at_once` requests
    in flight, from one thread (the client takes a sliver of one core, not the server's
    share). wrk's latency runs from a request written to its answer read."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("bench.web: the burst needs wrk; install it (apt-get install wrk)")
    listing, out = place / f"{name}.tsv", place / f"{name}.json"
    listing.write_text("".join(f"{line}\n" for line in lines))
    command = [wrk, "-t", "1", "-c", str(max(1, min(at_once, len(lines)))), "-d", "300s"]
    command += ["-s", str(ROOT / "bench" / "web_burst.lua"), base, "--", str(listing), "1"]
    process = subprocess.Popen(
        command, env=os.environ | {"WRK_OUT": str(out)}, stdout=subprocess.DEVNULL
    )
    finished = place / f"{name}.json.done0"
    deadline = time.monotonic() + 300
    while not finished.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)  # every answer is in: wrk stops and reports
    process.wait(timeout=60)
    return json.loads(out.read_text())


def _round(got: dict) -> dict:
    return {k: got[k] for k in ("n", "p50_ms", "p95_ms", "max_ms", "errors", "statuses")}


def _burst(side: Side, inputs: dict, args, place: Path) -> dict:
    """No think time, with wrk: every link opened at the same instant on a server just
    started, then again; every button pressed at the same instant, then again (the
    second press must record nothing); then the polls, 100 at a time."""
    opens = [f"GET\t{path}\t" for path in inputs["links"][: args.people]]
    first = _wrk(side.base, opens, len(opens), place, "open-first")
    opened = _wrk(side.base, opens, len(opens), place, "open")
    posts = [
        f"POST\t{path}\t{urlencode({'form_key': key, **_FORM})}"
        for path, key in sorted(opened["forms"].items())
    ]
    cpu = side.cpu()
    confirmed = _wrk(side.base, posts, len(posts), place, "confirm")
    cpu_confirm = side.cpu() - cpu
    again = _wrk(side.base, posts, len(posts), place, "confirm-again")
    feeds = inputs["feeds"]
    polls = [
        f"GET\t{feeds[n % len(feeds)][0]}\t{feeds[n % len(feeds)][1]}"
        for n in range(args.subscribers)
    ]
    polled = _wrk(side.base, polls, 100, place, "feed-304")
    return {
        "first open": _round(first),
        "open": _round(opened),
        "confirm": _round(confirmed),
        "confirm again": _round(again),
        "feed 304": _round(polled),
        "server_cpu_ms": {"confirm": round(cpu_confirm * 1000 / max(1, len(posts)), 2)},
        "audit": side.audit(sorted(confirmed["answered"])),
    }


def _serial(side: Side, inputs: dict, args, _place: Path) -> dict:
    """One request at a time: what a request costs the server, with nothing queued."""
    import httpx

    opened: list[float] = []
    posted: list[float] = []
    polled: list[float] = []
    confirmed: list[str] = []
    keys: dict[str, str] = {}
    cpu = [side.cpu()]
    with httpx.Client(base_url=side.base, timeout=60) as client:
        for path in inputs["links"][: args.people]:  # every page opened, then every button
            start = time.perf_counter()
            page = client.get(path)
            opened.append(time.perf_counter() - start)
            key = re.search(r'name="form_key" value="([^"]+)"', page.text)
            if key is not None:
                keys[path] = key.group(1)
        cpu.append(side.cpu())
        for path, key in keys.items():
            form = {
                "form_key": key,
                "evidence": "https://example.org/return.pdf",
                "note": "seen",
                "answer": "coming",
            }
            start = time.perf_counter()
            if client.post(path, data=form).status_code == 303:
                confirmed.append(path)
            posted.append(time.perf_counter() - start)
        cpu.append(side.cpu())
        for n in range(args.subscribers):
            path, tag = inputs["feeds"][n % len(inputs["feeds"])]
            start = time.perf_counter()
            client.get(path, headers={"if-none-match": tag})
            polled.append(time.perf_counter() - start)
        cpu.append(side.cpu())
    pages = len(opened) + len(posted)
    return {
        "open": _percentiles(opened),
        "confirm": _percentiles(posted),
        "feed 304": _percentiles(polled),
        "audit": side.audit(confirmed),
        "server_cpu_ms": {
            "page or confirm": round((cpu[2] - cpu[0]) * 1000 / pages, 2),
            "open": round((cpu[1] - cpu[0]) * 1000 / len(opened), 2),
            "confirm": round((cpu[2] - cpu[1]) * 1000 / len(posted), 2),
            "304": round((cpu[3] - cpu[2]) * 1000 / len(polled), 3),
        },
    }


def _known_to(tree: Path, database: Path) -> None:
    """The prepared database stamped at `tree`'s newest migration when it is older than
    the one that prepared it: the later migrations only add tables (person_feed_part)
    the older code never reads, and an older alembic refuses a revision it has not got."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(tree / "models" / "migrations")).get_current_head()
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("UPDATE alembic_version SET version_num = ?", (head,))


def _old_tree(commit: str, work: Path) -> Path:
    """The code at `commit`, as files (its app and its own bench/web_server.py, or ours)."""
    tree = work / f"code-{commit}"
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", commit], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    if not (tree / "bench" / "web_server.py").exists():
        shutil.copy(ROOT / "bench" / "web_server.py", tree / "bench" / "web_server.py")
    return tree


LOADS = {"shape": _shape, "burst": _burst, "serial": _serial}


def _loads(text: str) -> list[str]:
    loads = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in loads if name not in LOADS]
    if not loads or unknown:
        raise argparse.ArgumentTypeError(
            f"{', '.join(unknown) or text!r}: choose from {', '.join(LOADS)}"
        )
    return loads


def main() -> None:
    from govcal.web.worker import default_workers

    parser = argparse.ArgumentParser(
        description="The web app under load: people answering their links at once, and "
        "calendar subscribers polling their feeds (bench/README.md, the web app under load)."
    )
    parser.add_argument("--people", type=int, default=200, help="links opened (200)")
    parser.add_argument("--subscribers", type=int, default=1000, help="feed polls (1000)")
    parser.add_argument("--poll-every", type=float, default=300.0, help="seconds (300)")
    parser.add_argument("--arrive", type=float, default=10.0, help="seconds: people's opens")
    parser.add_argument("--duration", type=int, default=60, help="seconds of the shape")
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="the second side's workers"
    )
    parser.add_argument("--before", default=BEFORE, help="the baseline's commit ('': none)")
    parser.add_argument(
        "--loads",
        default="serial,shape,burst",
        type=_loads,
        help="any of serial, shape, burst, comma-separated",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres", default="", help="a running server's admin URL")
    args = parser.parse_args()
    if args.backend == "postgresql" and args.before:
        print("bench.web: the baseline runs on SQLite only; measuring the after sides")
        args.before = ""

    work = Path(tempfile.mkdtemp(prefix="govcal-web-bench-"))
    try:
        with ExitStack() as stack:
            pg = None
            if args.backend == "postgresql":
                from bench.backends import postgres
                from govcal.models.db import get_engine, upgrade

                admin, postmaster = stack.enter_context(postgres(args.postgres))
                pg = Postgres(admin, postmaster, work)
                os.environ["GOVCAL_DATABASE_URL"] = pg.template
                # a configured database has no data folder's key: every process shares one
                os.environ["GOVCAL_WEB_SECRET"] = secrets.token_urlsafe(32)
                upgrade(pg.template)
            inputs = _prepare(work / "prepared")
            if pg is not None:  # a template database takes no copies while connected
                get_engine(pg.template).dispose()
            report = _run(inputs, args, work, pg)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=1))
    print(_table(report))


def _run(inputs: dict, args, work: Path, pg: Postgres | None) -> dict:
    """Every load on every side, each on a fresh copy of the prepared data."""
    sides = [("after, 1 worker", ROOT, 1, "auto")]
    if args.workers > 1:
        sides.append((f"after, {args.workers} workers", ROOT, args.workers, "auto"))
    if args.before:  # uvicorn parses with h11 when the baseline's lock has no httptools
        old = _old_tree(args.before, work)
        lock = old / "requirements.lock"
        http = "auto" if lock.exists() and "httptools" in lock.read_text() else "h11"
        sides.insert(0, (f"before ({args.before}), 1 worker", old, 1, http))
    report: dict = {
        "links": len(inputs["links"][: args.people]),
        "feeds": len(inputs["feeds"]),
        "cores": os.cpu_count(),
        "sides": {},
    }
    for n, (name, tree, workers, http) in enumerate(sides):
        for load in args.loads:
            place = work / f"run-{n}-{load}"
            place.mkdir()
            load_before = os.getloadavg()[0]
            data = work / "prepared" / "data"
            with Side(name, tree, workers, data, place, http, pg) as side:
                measured = LOADS[load](side, inputs, args, place)
            measured["load_average"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
            report["sides"].setdefault(name, {})[load] = measured
            print(f"{name}, {load}: {json.dumps(measured)}", file=sys.stderr, flush=True)
    return report


def _table(report: dict) -> str:
    """p50 / p95 in ms, a row per side and load, a column per kind of request."""
    kinds = ["first open", "open", "confirm", "feed 304"]
    lines = [
        "| side | load | "
        + " | ".join(f"{k} p50 / p95 ms" for k in kinds)
        + " | answers / confirmed / lost / doubled | load avg |",
        "|---|---|" + "---|" * (len(kinds) + 2),
    ]
    for name, loads in report["sides"].items():
        for load, got in loads.items():
            cells = [
                f"{got[k]['p50_ms']} / {got[k]['p95_ms']}" if got.get(k, {}).get("n") else "-"
                for k in kinds
            ]
            a = got["audit"]
            audit = f"{a['answers']} / {a['confirmed']} / {a['lost']} / {a['doubled']}"
            avg = "-".join(str(x) for x in got["load_average"])
            lines.append(f"| {name} | {load} | " + " | ".join(cells) + f" | {audit} | {avg} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
