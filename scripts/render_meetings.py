"""Screenshot of the cockpit's "Who is coming" and "Failing addresses" sections as the
Prefect UI renders the summary's markdown (docs/screenshots/who-is-coming.png).

In a throwaway database: the sample partnership's invites of 1 October 2026 sent to a
file outbox, answers to the joint LSP meeting of 11 November recorded as the mailbox
and the links in the email record them (one coming, one declined without a deputy, one
sending a deputy, the rest silent), and two invites to one address bounced; then the
summary of 4 November (five working days before: "quorum at risk") in headless Chromium.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots" / "who-is-coming.png"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LSP = "wfscp:lsp-meeting:2026-11-11"
STYLE = (
    "body{font-family:Inter,Arial,sans-serif;font-size:15px;color:#1f2937;margin:24px;"
    "max-width:1100px}h2{font-size:19px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}"
    "li{margin:3px 0}"
)


def main() -> None:
    from markdown_it import MarkdownIt
    from sqlmodel import select

    from govcal.flows.dashboard import build
    from govcal.flows.steps import notify
    from govcal.models import bounces, ledger
    from govcal.models.attendance import Answer, AnswerSource, record_answer
    from govcal.models.db import session_scope, upgrade
    from govcal.models.directory_import import import_directory
    from govcal.models.ledger import LedgerEntry
    from govcal.models.mailbox import meeting_of
    from govcal.models.notify_inputs import directory
    from govcal.models.sync import sync_partnership
    from govcal.notifications.render import Sender
    from govcal.notifications.transport import FileOutbox
    from govcal.rules.loader import load_partnership

    wfscp = load_partnership("wfscp")
    with tempfile.TemporaryDirectory(prefix="govcal-meetings-") as folder:
        url = f"sqlite:///{folder}/govcal.db"
        upgrade(url)
        with session_scope(url) as s:
            import_directory(s, ROOT / "models" / "sample_directory" / "wfscp", wfscp)
            sync_partnership(s, wfscp, date(2026, 10, 1))
        with session_scope(url) as s:
            notify(
                s,
                [wfscp],
                date(2026, 10, 1),
                FileOutbox(Path(folder) / "outbox"),
                Sender("govcal", "govcal@example.org"),
                now=datetime(2026, 10, 1, 7, tzinfo=UTC),
            )
        with session_scope(url) as s:
            meeting = meeting_of(s, LSP)
            assert meeting is not None
            people = directory(s, ["wfscp"])
            quorum = list(
                dict.fromkeys(
                    c.email.lower() for r in ("co-chairs", "lsp") for c in people.of("wfscp", r)
                )
            )
            said = [
                (Answer.COMING, None),
                (Answer.NOT_COMING, None),
                (Answer.DEPUTY, "deputy.police@example.org"),
            ]
            for who, (answer, deputy) in zip(quorum, said, strict=False):
                record_answer(
                    s,
                    occurrence_id=meeting[0],
                    attendee=who,
                    answer=answer,
                    sequence=0,
                    answered_at=datetime(2026, 10, 2, 9, tzinfo=UTC),
                    source=AnswerSource.MAILBOX,
                    deputy=deputy,
                )
            s.commit()
            address = quorum[-1]
            rows = s.exec(select(LedgerEntry).where(LedgerEntry.recipient == address)).all()
            by_message = {r.message_key: r.id for r in rows if r.message_key and r.id}
            for key, when in zip(sorted(by_message)[:2], (2, 5), strict=False):
                words = f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
                changed = ledger.mark_bounced(s, [by_message[key]], words)
                bounces.record_bounces(
                    s, changed, address, words, datetime(2026, 10, when, 7, tzinfo=UTC)
                )
            s.commit()
        with session_scope(url) as s:
            summary = build(s, wfscp, date(2026, 11, 4)).markdown()
        shown = summary[summary.index("## Who is coming") :]
        page = Path(folder) / "page.html"
        body = MarkdownIt("commonmark").enable("table").render(shown)
        page.write_text(f"<meta charset=utf-8><style>{STYLE}</style>{body}", encoding="utf-8")
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                f"--screenshot={OUT}",
                "--window-size=1200,440",
                page.as_uri(),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        print(shown)
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
