"""`govcal feeds`: write the .ics calendar feeds; list or rotate people's feed tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from govcal.cli.common import AsOfOption, RulesOption, database, load_rules, out, parse_day, today
from models.settings import get_settings


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
            help="Give EMAIL a new feed link and rewrite the feeds: the old link stops working.",
        ),
    ] = None,
) -> None:
    """Write one .ics feed per partnership, per body and per person."""
    from models.feed_tokens import all_feed_tokens, rotate_feed_token

    settings = get_settings()
    if list_ or rotate:
        with database() as session:
            if rotate:
                changed = rotate_feed_token(session, rotate)
                if changed is None:
                    out.print(
                        f"{rotate} has no feed yet; run `govcal feeds` first, or check "
                        "the address against `govcal feeds --list`.",
                        markup=False,
                    )
                    raise typer.Exit(1)
                session.commit()
                out.print(
                    f"New feed link for {rotate.strip().lower()}: {_where(settings, changed[1])}",
                    markup=False,
                )
            else:
                for row in all_feed_tokens(session):
                    out.print(f"{row.email}  {_where(settings, row.token)}", markup=False)
        if not rotate:
            return
    day = parse_day(as_of, "--as-of") or today()
    from flows.steps import publish_feeds

    with database() as session:
        written = publish_feeds(session, load_rules(rules), day, settings.effective_feeds_dir)
    out.print(f"Wrote {len(written)} feeds under {settings.effective_feeds_dir}.")


def _where(settings, token: str) -> str:
    """The person's feed as they would subscribe to it (a link if a public URL is set)."""
    if settings.feeds_url:
        return f"{settings.feeds_url.rstrip('/')}/<partnership>/people/{token}.ics"
    return f"people/{token}.ics"
