"""`govcal attendance`: who answered a meeting's invite, and who attended it."""

from __future__ import annotations

from typing import Annotated

import typer

from govcal import exit_codes
from govcal.cli.common import actor, database, err, out, parse_day, today

attendance_app = typer.Typer(
    help="Who is coming to a meeting, and who attended it.", no_args_is_help=True
)
MeetingArg = Annotated[str, typer.Argument(help="The meeting's id, as `govcal plan` shows it.")]


@attendance_app.command("show")
def show(meeting: MeetingArg) -> None:
    """Each invitee's answer (and, once recorded, whether they attended)."""
    from govcal.models.attendance import AnswerRefused, register

    with database() as session:
        try:
            table = register(session, meeting)
        except AnswerRefused as refused:
            err.print(f"Error: {refused}", markup=False)
            raise typer.Exit(exit_codes.ERROR) from None
    out.print(f"{table.title}, {table.due:%d/%m/%Y} ({table.public_id})", markup=False)
    for person in table.invited:
        said = table.answers.get(person)
        answer = "no answer" if said is None else said.answer.value.replace("-", " ")
        if said is not None and said.deputy:
            answer += f": {said.deputy} instead"
        attended = table.attended.get(person)
        mark = "" if attended is None else ("; attended" if attended else "; absent")
        out.print(f"  {person}: {answer}{mark}", markup=False)


@attendance_app.command("record")
def record(
    meeting: MeetingArg,
    present: Annotated[
        list[str] | None,
        typer.Option("--present", help="Who attended (repeat); default: who said they would."),
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Record as on this day.")] = None,
) -> None:
    """After the meeting: record who attended (pre-filled from the answers)."""
    from govcal.models.attendance import AnswerRefused, record_attended, register

    day = parse_day(as_of, "--as-of") or today()
    with database() as session:
        try:
            people = present if present is not None else register(session, meeting).expected()
            line = record_attended(session, meeting, people, by=actor().name, today=day)
        except AnswerRefused as refused:
            err.print(f"Error: {refused}; nothing was recorded.", markup=False)
            raise typer.Exit(exit_codes.ERROR) from None
    out.print(line, markup=False)
