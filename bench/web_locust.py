"""The load shape of `bench/web.py`, as locust users (run by bench/web.py, headless).

- A person (`Person`, one per link in the morning's emails) opens their link, reads the
  page for a few seconds (think time), presses the button, and reads the page the
  answer leads to. All of them open within GOVCAL_BENCH_ARRIVE seconds (10): "200
  people at once", as people who all got the email a moment ago.
- A calendar subscriber (`Subscriber`) polls its feed with the ETag it was given, every
  `GOVCAL_BENCH_POLL_EVERY` seconds, as calendar clients do: each at its own phase
  in the period, so 1,000 of them make a steady rate (1,000 polls per period).

Reads its inputs from GOVCAL_BENCH_IN (JSON: links, feeds) and writes every request's
time and each person's outcome to GOVCAL_BENCH_OUT when the run stops.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from itertools import count
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, between, constant_pacing, events, task
from locust.exception import StopUser

INPUT = json.loads(open(os.environ["GOVCAL_BENCH_IN"]).read())  # noqa: SIM115
THINK = (
    float(os.environ.get("GOVCAL_BENCH_THINK_MIN", "5")),
    float(os.environ.get("GOVCAL_BENCH_THINK_MAX", "20")),
)
POLL_EVERY = float(os.environ.get("GOVCAL_BENCH_POLL_EVERY", "300"))
ARRIVE = float(os.environ.get("GOVCAL_BENCH_ARRIVE", "10"))
KEY = re.compile(r'name="form_key" value="([^"]+)"')
times: dict[str, list[float]] = {}
outcomes: list[dict] = []
errors: list[str] = []
_people, _feeds = count(), count()


@events.request.add_listener
def _timed(request_type, name, response_time, response_length, exception=None, **_kw):
    times.setdefault(name, []).append(response_time / 1000.0)
    if exception is not None:
        errors.append(f"{name}: {type(exception).__name__}")


@events.test_stop.add_listener
def _written(**_kw):
    with open(os.environ["GOVCAL_BENCH_OUT"], "w") as out:
        json.dump({"times": times, "outcomes": outcomes, "errors": errors}, out)


class Person(FastHttpUser):
    """One person answering the link in their email, once."""

    fixed_count = len(INPUT["links"])
    wait_time = between(*THINK)

    def on_start(self) -> None:
        self.link = INPUT["links"][next(_people) % len(INPUT["links"])]
        self.key: str | None = None
        gevent.sleep(random.uniform(0, ARRIVE))  # the email opened within a few seconds

    @task
    def answer(self) -> None:
        if self.key is None:
            with self.client.get(self.link, name="open", catch_response=True) as page:
                found = KEY.search(page.text or "")
                page.success()  # a page saying the link cannot be used is an answer too
            if found is None:
                outcomes.append({"link": self.link, "confirm": None})
                raise StopUser
            self.key = found.group(1)
            return  # the think time passes before the button is pressed
        form = {
            "form_key": self.key,
            "evidence": "https://example.org/return.pdf",
            "note": "Seen, thank you",
            "answer": "coming",
        }
        with self.client.post(
            self.link,
            data=urlencode(form),
            name="confirm",
            headers={"content-type": "application/x-www-form-urlencoded"},
            allow_redirects=False,
            catch_response=True,
        ) as sent:
            status = sent.status_code
            sent.success()
        outcomes.append({"link": self.link, "confirm": status, "at": time.time()})
        if status == 303:
            self.client.get(self.link, name="recorded page")
        raise StopUser


class Subscriber(FastHttpUser):
    """A calendar client polling one feed with its ETag."""

    weight = 1
    wait_time = constant_pacing(POLL_EVERY)

    def on_start(self) -> None:
        self.feed, self.etag = INPUT["feeds"][next(_feeds) % len(INPUT["feeds"])]
        gevent.sleep(random.uniform(0, POLL_EVERY))  # each client at its own phase

    @task
    def poll(self) -> None:
        with self.client.get(
            self.feed, headers={"if-none-match": self.etag}, name="feed 304", catch_response=True
        ) as answer:
            if answer.status_code == 304:
                answer.success()
            else:
                answer.failure(f"status {answer.status_code}")
