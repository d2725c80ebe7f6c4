"""`govcal evidence`: an occurrence's evidence file read back from govcal's store, on any
worker (the store is the one GOVCAL_EVIDENCE_STORE_URL names, not this machine's disk)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from govcal.cli.common import database, err, out
from govcal.cli.records import OccurrenceArg
from govcal.models.evidence import EvidenceRefused, EvidenceStore
from govcal.models.settings import get_settings


def evidence(
    occurrence: OccurrenceArg,
    to: Annotated[Path, typer.Option("--out", help="A new file to write the evidence to.")],
) -> None:
    """Copy an occurrence's evidence file out of govcal's store."""
    from govcal.models.queries import occurrence as one

    with database() as session:
        row = one(session, occurrence)
        kept, link = row.evidence_file, row.evidence_url
    if kept is None:
        shown = f"its evidence is the link {link}" if link else "it has no evidence recorded"
        err.print(f"Error: {occurrence}: {shown}; nothing to copy.", markup=False)
        raise typer.Exit(1)
    try:
        data = EvidenceStore.configured(get_settings()).read(kept)
    except EvidenceRefused as exc:
        err.print(f"Error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        fd = os.open(to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        err.print(f"Error: cannot write {to}: {exc.strerror}; name a new file.", markup=False)
        raise typer.Exit(1) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    out.print(f"{occurrence}: {len(data)} bytes written to {to}.", markup=False)
