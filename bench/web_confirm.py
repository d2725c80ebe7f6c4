"""What one confirm costs in-process, by kind of answer: the recording behind the button.

    nice .venv/bin/python -m bench.web_confirm [--answers 100] [--profile KIND]

On bench/web.py's data (the sample, the S175 reminders of 3 March 2027 sent), each
link's answer is recorded through `link_answers.answer` in a session of its own, as the
app's worker thread records it, with no HTTP and no client. Prints, per kind (return,
attend, acknowledge, done), how many answers were recorded, the CPU per answer
(time.process_time) and the statements per answer. Links another holder's answer made
dead (a second Lead Partner's acknowledgement) are skipped and not counted. With
--profile KIND, cProfile's cumulative listing of that kind's answers follows.
To compare with older code, run it from that code's tree (`git archive`) with
PYTHONPATH set to the tree.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=100, help="per kind, at most")
    parser.add_argument("--profile", default="", help="a kind to profile (cProfile)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="govcal-confirm-bench-"))
    try:
        _run(work, args.answers, args.profile)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(work: Path, most: int, profiled: str) -> None:
    from sqlalchemy import event

    from bench.web import DAY, NOW, _prepare

    inputs = _prepare(work / "prepared")
    from govcal.flows.runtime import build_runtime, web_secret
    from govcal.models import action_links, link_answers
    from govcal.models.action_links import ActionLink
    from govcal.models.db import Database, get_engine, session_scope

    runtime = build_runtime(clock=lambda: NOW)
    secret = web_secret(runtime.settings) or ""
    database = Database.of(runtime.settings)
    kinds: dict[str, list[str]] = defaultdict(list)
    with session_scope(database) as session:
        for path in inputs["links"]:
            token = path.rsplit("/", 1)[1]
            link = session.get(ActionLink, action_links.checked_id(secret, token))
            if link is not None:
                kinds[link.action].append(token)
    counted = Counter[str]()
    current = [""]

    def seen(*_args) -> None:
        counted[current[0]] += 1

    event.listen(get_engine(database), "before_cursor_execute", seen)
    profile = cProfile.Profile()
    form = {"evidence": "https://example.org/return.pdf", "note": "seen", "answer": "coming"}
    for kind, tokens in sorted(kinds.items()):
        cpu, done = 0.0, 0
        before = counted[kind]
        for token in tokens[:most]:
            key = action_links.form_key(secret, action_links.checked_id(secret, token) or "")
            current[0] = kind
            start = time.process_time()
            if kind == profiled:
                profile.enable()
            try:
                with session_scope(database, checked=True) as session:
                    link_answers.answer(
                        session,
                        secret,
                        token,
                        dict(form, form_key=key),
                        now=NOW,
                        today=DAY,
                        partnerships=runtime.partnerships,
                        client="127.0.0.1",
                    )
            except link_answers.LinkDead:
                counted[kind] = before  # another holder answered first: not counted
                continue
            finally:
                profile.disable()
                current[0] = ""
            cpu += time.process_time() - start
            before = counted[kind]
            done += 1
        if done:
            print(
                f"{kind}: {done} answers, {cpu * 1000 / done:.2f} ms CPU and "
                f"{counted[kind] / done:.1f} statements per answer"
            )
    if profiled:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
