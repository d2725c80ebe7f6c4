"""The web app under load: 200 people opening and confirming their links at once, and
1,000 calendar subscribers polling their feeds (If-None-Match: 304).

    nice .venv/bin/python -m bench.web [--people 200] [--polls 1000]

The app runs in a process of its own (uvicorn, as `govcal web` runs it) over the sample
on the embedded SQLite, with the S175 reminders of 3 March 2027 in its outbox (148
schools, each with its own link, and the day's other links). Prints JSON: p50/p95/max of
each kind of request, and whether the audit trail has each answer exactly once. `wrk`
(Debian) measures the 304 throughput when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

DAY = date(2027, 3, 3)
NOW = datetime(2027, 3, 3, 12, tzinfo=UTC)
SERVER = """
import uvicorn
from govcal.flows.runtime import build_runtime
from govcal.web.app import create_app
from datetime import datetime, UTC
app = create_app(build_runtime(clock=lambda: datetime(2027, 3, 3, 12, tzinfo=UTC)),
                 per_client_minute=100_000, per_token_minute=100)
uvicorn.run(app, host="127.0.0.1", port={port}, access_log=False, log_level="warning")
"""


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(p95 * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}  # fmt: skip


def _prepare(folder: Path, port: int) -> list[str]:
    os.environ.update({"GOVCAL_DATA_DIR": str(folder / "data"),
                       "GOVCAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
                       "GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK": "true"})  # fmt: skip
    from govcal.cli.run import load_samples_if_empty
    from govcal.flows.runtime import build_runtime
    from govcal.flows.steps import publish_feeds
    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from tests.support.web import day_sent

    load_samples_if_empty(history=False)
    day_sent(folder / "outbox", DAY, NOW)
    with session_scope(get_settings()) as session:
        publish_feeds(session, build_runtime().partnerships, DAY, folder / "data" / "feeds")
    links = set()
    for path in (folder / "outbox").glob("*.eml"):
        links.update(re.findall(rf"http://127\.0\.0\.1:{port}/a/[A-Za-z0-9_.-]+", path.read_text()))
    return sorted(links)


async def _people(links: list[str]) -> dict:
    import httpx

    opened: list[float] = []
    posted: list[float] = []
    failed: list[str] = []

    async def one(client: httpx.AsyncClient, url: str) -> None:
        try:
            await answer(client, url)
        except httpx.TransportError as exc:
            failed.append(type(exc).__name__)

    async def answer(client: httpx.AsyncClient, url: str) -> None:
        start = time.perf_counter()
        page = await client.get(url)
        opened.append(time.perf_counter() - start)
        key = re.search(r'name="form_key" value="([^"]+)"', page.text)
        if key is None:
            return
        form = {"form_key": key.group(1), "evidence": "https://example.org/return.pdf",
                "note": "seen"}  # fmt: skip
        start = time.perf_counter()
        await client.post(url, data=form)
        posted.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=len(links))
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        await asyncio.gather(*(one(client, url) for url in links))
        await asyncio.gather(*(one(client, url) for url in links))  # everyone clicks twice
    return {"open": _percentiles(opened), "confirm": _percentiles(posted),
            "transport_errors": failed}  # fmt: skip


async def _polls(urls: list[str], count: int) -> dict:
    import httpx

    times: list[float] = []
    codes: dict[int, int] = {}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100), timeout=60) as client:
        first = {u: await client.get(u) for u in urls}
        tags = {u: a.headers["etag"] for u, a in first.items() if a.status_code == 200}
        urls = sorted(tags)  # tokens whose holder has no feed (nothing in it) answer 404
        gate = asyncio.Semaphore(100)

        async def poll(n: int) -> None:
            url = urls[n % len(urls)]
            async with gate:
                start = time.perf_counter()
                answer = await client.get(url, headers={"if-none-match": tags[url]})
                times.append(time.perf_counter() - start)
                codes[answer.status_code] = codes.get(answer.status_code, 0) + 1

        await asyncio.gather(*(poll(n) for n in range(count)))
    return {"not_modified": _percentiles(times), "status": codes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--polls", type=int, default=1000)
    args = parser.parse_args()
    from tests.smtp_server import free_port

    folder = Path(tempfile.mkdtemp(prefix="govcal-web-bench-"))
    port = free_port()
    links = _prepare(folder, port)[: args.people]
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(port=port)], env=os.environ)
    try:
        import httpx

        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        people = asyncio.run(_people(links))
        from govcal.models.db import session_scope
        from govcal.models.feed_tokens import all_feed_tokens
        from govcal.models.settings import get_settings

        with session_scope(get_settings()) as session:
            tokens = [row.token for row in all_feed_tokens(session)]
        feeds = [f"http://127.0.0.1:{port}/feeds/{t}.ics" for t in tokens]
        polls = asyncio.run(_polls(feeds, args.polls))
        report = {"links": len(links), **people, **polls, "audit": _audit(len(links))}
        if shutil.which("wrk"):
            report["wrk_304"] = _wrk(feeds[0])
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(report, indent=1))


def _audit(expected: int) -> dict:
    """Each link's answer in the trail exactly once, whatever the double clicks."""
    from collections import Counter

    from sqlmodel import select

    from govcal.models.db import session_scope
    from govcal.models.settings import get_settings
    from govcal.models.trail import TrailEntry

    with session_scope(get_settings()) as session:
        used = session.exec(select(TrailEntry).where(TrailEntry.action == "email-link-used")).all()
    per_link = Counter((r.actor, r.entity_id) for r in used)
    return {"answers": len(used), "links": expected,
            "doubled": sum(1 for n in per_link.values() if n > 1)}  # fmt: skip


def _wrk(url: str) -> str:
    import httpx

    tag = httpx.get(url).headers["etag"]
    done = subprocess.run(["wrk", "-t2", "-c50", "-d10s", "--latency", "-H",
                           f"If-None-Match: {tag}", url],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    keep = [line.strip() for line in done.stdout.splitlines()
            if re.match(r"\s+(50|90|99)%|Requests/sec|requests in", line)]  # fmt: skip
    return "; ".join(keep)


if __name__ == "__main__":
    main()
