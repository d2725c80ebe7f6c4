"""`govcal db`: the database's schema, backups and restores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from govcal.cli.common import govcal_error, out
from govcal.models.db import head_revision, upgrade
from govcal.models.settings import get_settings, redact_url
from govcal.rules.errors import GovcalError

db_app = typer.Typer(
    help="Database schema, migrations, backups and restores.", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or migrate it to the latest schema."""
    settings = get_settings()
    url = settings.effective_database_url
    try:
        before, after = upgrade(settings)
    except GovcalError as exc:
        govcal_error(exc)
    if before == after:
        out.print(f"{redact_url(url)} is up to date (revision {after}).")
    else:
        out.print(f"{redact_url(url)} migrated from {before or 'empty'} to {after}.")


@db_app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="The new backup file.", show_default=False)],
) -> None:
    """Copy the database into a new file, safe while govcal runs."""
    from govcal.models.backup import backup

    url = get_settings().effective_database_url
    try:
        how = backup(url, path)
    except GovcalError as exc:
        govcal_error(exc)
    out.print(f"Backed up {redact_url(url)} to {path} ({how}).")


@db_app.command("restore")
def db_restore(
    path: Annotated[Path, typer.Argument(help="A file made by `govcal db backup`.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a database that holds records.")
    ] = False,
) -> None:
    """Put a backup in place of the database (refuses to replace records unasked)."""
    from govcal.models.backup import restore

    url = get_settings().effective_database_url
    try:
        revision = restore(url, path, replace=replace)
    except GovcalError as exc:
        govcal_error(exc)
    out.print(f"Restored {path} into {redact_url(url)} (revision {revision}).")
    if revision != head_revision():
        out.print(f"Run `govcal db upgrade` to migrate it to {head_revision()}.")
