"""Render a sample digest and a sample meeting update as a reader sees them, and take
screenshots with headless Chromium (docs/screenshots/digest.png, invite.png).

Runs govcal as a user does, in a throwaway data folder: `govcal run` on the sample as of
2026-11-24, then a meeting moved to another day and place, then `govcal notify` the next
day. The HTML part of each email is shown under its From/To/Subject lines.
"""

from __future__ import annotations

import email
import html
import os
import shutil
import subprocess
import sys
import tempfile
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
_LABEL = "color:#505a5f;padding:1px 12px 1px 0;vertical-align:top;white-space:nowrap"
PHONE_WIDTH = 400  # CSS pixels: a phone held upright, as a Lead Partner reads it
MEETING = "wfscp:safeguarding-accountability-meeting:2026-12-08"


def govcal(data: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GOVCAL_DATA_DIR": str(data),
        "GOVCAL_FEEDS_URL": "https://calendar.example.org/govcal",
    }
    subprocess.run(
        [sys.executable, "-m", "govcal.cli", *args],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )


def page(message: email.message.EmailMessage) -> str:
    """The email's HTML part under a mail client's header lines."""
    body = message.get_body(("html",)).get_content()
    to = [a.display_name or a.addr_spec for a in message["To"].addresses]
    shown = ", ".join(to[:2]) + (f" and {len(to) - 2} more" if len(to) > 2 else "")
    calendar = any(p.get_content_type() == "text/calendar" for p in message.walk())
    rows = "".join(
        f"<tr><td style='{_LABEL}'>{k}</td><td style='padding:1px 0'>{html.escape(v)}</td></tr>"
        for k, v in (
            ("From", str(message["From"])),
            ("To", shown),
            ("Reply-To", str(message["Reply-To"])),
            ("Subject", str(message["Subject"])),
        )
    )
    header = f"<table style='border-collapse:collapse;font-size:14px'>{rows}</table>"
    buttons = (
        "<div style='margin-top:8px'><span style='border:1px solid #b1b4b6;padding:3px 10px;"
        "margin-right:6px'>Yes</span><span style='border:1px solid #b1b4b6;padding:3px 10px;"
        "margin-right:6px'>Maybe</span><span style='border:1px solid #b1b4b6;padding:3px 10px'>"
        "No</span> <span style='color:#505a5f;font-size:13px'>(what a mail client shows for "
        "the text/calendar part)</span></div>"
        if calendar
        else ""
    )
    top = (
        "<div style='font-family:Arial,sans-serif;font-size:14px;background:#f3f2f1;"
        f"padding:12px 16px;border-bottom:1px solid #b1b4b6'>{header}{buttons}</div>"
    )
    start = body.index(">", body.index("<body")) + 1
    return body[:start] + top + body[start:]


def shoot(html_file: Path, png: Path, height: int) -> None:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
            f"--screenshot={png}",
            "--force-device-scale-factor=2",
            f"--window-size={PHONE_WIDTH},{height}",
            html_file.as_uri(),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="govcal-samples-") as folder:
        data = Path(folder) / "data"
        govcal(data, "run", "--as-of", "2026-11-24")
        outbox = data / "outbox"
        first = set(outbox.glob("*.eml"))
        govcal(
            data,
            "reschedule",
            MEETING,
            "--to",
            "2026-12-17 14:00",
            "--location",
            "Barrow Town Hall, Committee Room 2",
            "--reason",
            "South Lakeland House is closed that week",
        )
        govcal(data, "notify", "--as-of", "2026-11-25")
        later = sorted(set(outbox.glob("*.eml")) - first)
        messages = [
            email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(first)
        ]
        digest = next(
            m
            for m in messages
            if m["To"].addresses[0].addr_spec == "lsp-wfc@example.org"
            and "digest" in m["Message-ID"]
        )
        update = next(
            m
            for m in (
                email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in later
            )
            if str(m["Subject"]).startswith("Updated:")
        )
        for name, message, height in (("digest", digest, 1090), ("invite", update, 920)):
            html_file = Path(folder) / f"{name}.html"
            html_file.write_text(page(message), encoding="utf-8")
            shoot(html_file, OUT / f"{name}.png", height)
            print(f"wrote {OUT / f'{name}.png'}")


if __name__ == "__main__":
    main()
