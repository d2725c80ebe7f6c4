"""`govcal directory`: who is in the directory, and which addresses keep bouncing."""

from __future__ import annotations

from typing import Annotated

import typer

from govcal.cli.common import database, out

FailingOption = Annotated[
    bool,
    typer.Option(
        "--failing",
        help="Only addresses with two hard bounces or more: when, and what the server said.",
    ),
]
OnlyPartnership = Annotated[
    str | None,
    typer.Option("--partnership", "-p", help="Only this partnership's people (default: all)."),
]


def directory(failing: FailingOption = False, partnership: OnlyPartnership = None) -> None:
    """List the people and addresses of the directory, with failing addresses marked."""
    if failing:
        _failing(partnership)
        return
    from govcal.models.directory_view import listing

    shown = 0
    with database() as session:
        for person in listing(session, partnership):
            shown += 1
            out.print(f"{person.address}  {person.name}", markup=False, soft_wrap=True)
            for role in person.roles:
                out.print(f"    {role}", markup=False, soft_wrap=True)
            if person.failing is not None:
                out.print(f"    FAILING: {person.failing.line()}", markup=False, soft_wrap=True)
    if not shown:
        where = f" in {partnership}" if partnership else ""
        out.print(f"Nobody holds a role{where}: import people.csv (govcal import).", markup=False)


def _failing(partnership: str | None) -> None:
    from govcal.models.bounces import failing_addresses
    from govcal.models.directory_view import names_of

    with database() as session:
        found = [
            f
            for f in failing_addresses(session)
            if partnership is None or partnership in f.partnerships
        ]
        names = names_of(session, [f.address for f in found])
    if not found:
        out.print("No failing address: none has bounced twice or more.", markup=False)
        return
    out.print(f"{len(found)} failing address(es):", markup=False)
    for f in found:
        name = names.get(f.address, "not in the directory")
        out.print(
            f"  {f.line()} [{name}; {', '.join(f.partnerships)}]", markup=False, soft_wrap=True
        )
