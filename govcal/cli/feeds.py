"""`govcal feeds`: write the .ics calendar feeds; list or rotate people's feed tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from govcal.cli.common import (
    AsOfOption,
    RulesOption,
    database,
    err,
    load_rules,
    out,
    parse_day,
    today,
)
from govcal.models.settings import get_settings


def feeds(
    as_of: AsOfOption = None,
    rules: RulesOption = None,
    list_: Annotated[
        bool, typer.Option("--list", help="Show whose feed is which file (and link).")
    ] = False,
    rotate: Annotated[
        str | None,
        typer.Option(
            "--rotate",
            metavar="EMAIL",
            help="Give EMAIL (or a group feed, as --list names it) a new feed link and rewrite "
            "the feeds: the old link stops working at once.",
        ),
    ] = None,
) -> None:
    """Write one .ics feed per partnership, per body and per person."""
    from govcal.models.feed_tokens import all_feed_tokens, rotate_feed_token

    settings = get_settings()
    if list_ or rotate:
        from govcal.models.notify_inputs import directory

        partnerships = load_rules(rules)
        with database() as session:
            found = directory(session, [p.id for p in partnerships])
            member: dict[str, set[str]] = {}
            for (pid, _role), holders in found.holders.items():
                for _a, _s, contact in holders:
                    member.setdefault(contact.email.lower(), set()).add(pid)
            if rotate:
                changed = rotate_feed_token(session, rotate)
                if changed is None:
                    err.print(
                        f"Error: {rotate} has no feed yet; run `govcal feeds` first, or "
                        "check the address against `govcal feeds --list`.",
                        markup=False,
                        soft_wrap=True,
                    )
                    raise typer.Exit(1)
                email = rotate.strip().lower()
                for pid in sorted(_partnerships_of(email, member)):
                    out.print(
                        f"New feed link for {email}: {_where(settings, pid, changed[1])}",
                        markup=False,
                        soft_wrap=True,
                    )
            else:
                for row in all_feed_tokens(session):
                    for pid in sorted(_partnerships_of(row.email, member)):
                        out.print(
                            f"{row.email}  {_where(settings, pid, row.token)}",
                            markup=False,
                            soft_wrap=True,
                        )
        if not rotate:
            return
    day = parse_day(as_of, "--as-of") or today()
    from govcal.flows.steps import publish_feeds

    with database() as session:
        written = publish_feeds(session, load_rules(rules), day, settings.effective_feeds_dir)
    out.print(f"Wrote {len(written)} feeds under {settings.effective_feeds_dir}.")


def _partnerships_of(key: str, member: dict[str, set[str]]) -> set[str]:
    """A person's partnerships; a group feed's (`group:wfscp/roles/...`) is in its key."""
    if key.startswith("group:"):
        return {key.removeprefix("group:").split("/", 1)[0]}
    return member.get(key, set())


def _where(settings, partnership_id: str, token: str) -> str:
    """The person's feed as they would subscribe to it: the web app's link if
    GOVCAL_PUBLIC_URL is set, its published file's if GOVCAL_FEEDS_URL is, else the file."""
    if settings.public_url:
        return f"{settings.public_url.rstrip('/')}/feeds/{token}.ics"
    if settings.feeds_url:
        return f"{settings.feeds_url.rstrip('/')}/{partnership_id}/people/{token}.ics"
    return str(settings.effective_feeds_dir / partnership_id / "people" / f"{token}.ics")
