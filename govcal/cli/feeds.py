"""`govcal feeds`: write the .ics calendar feeds."""

from __future__ import annotations

from flows.steps import publish_feeds
from govcal.cli.common import AsOfOption, RulesOption, database, load_rules, out, parse_day, today
from models.settings import get_settings


def feeds(as_of: AsOfOption = None, rules: RulesOption = None) -> None:
    """Write one .ics feed per partnership, per body and per person."""
    settings = get_settings()
    day = parse_day(as_of, "--as-of") or today()
    with database() as session:
        written = publish_feeds(session, load_rules(rules), day, settings.effective_feeds_dir)
    out.print(f"Wrote {len(written)} feeds under {settings.effective_feeds_dir}.")
