"""What a daily-compliance run did, as one typed value.

The flow returns it as a plain dict (`as_result`): Prefect stores a run's result as
JSON, and `govcal serve` hands it to `govcal run` over a loopback socket as JSON too.
Readers turn it back with `DayOutcome.from_result` and use attributes, never keys, so a
renamed field fails in one place and the type checker sees every use. No Prefect import:
the command line reads it without loading Prefect.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class Synced:
    """One partnership's sync: what the rules created, moved, orphaned or left alone."""

    partnership: str
    created: int = 0
    updated: int = 0
    orphaned: int = 0
    unchanged: int = 0
    left_alone: str = ""  # what the rules now say otherwise but was kept, and why


@dataclass(frozen=True, slots=True)
class Sent:
    """The day's delivery: messages, the notices they carried, and what did not go."""

    messages_sent: int = 0
    notices_sent: int = 0
    to_retry: int = 0
    refused: int = 0
    sent_by_kind: dict[str, int] = field(default_factory=dict)
    planned: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DayOutcome:
    as_of: str
    synced: list[Synced]
    states: dict[str, int]
    sent: Sent
    artifacts: list[str]
    feeds: int
    cockpit_problem: str = ""  # why the dashboard's artifacts were not all posted, if so

    @property
    def delivered(self) -> bool:
        """Every notice went: nothing to retry and nothing refused."""
        return not (self.sent.to_retry or self.sent.refused)

    def as_result(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_result(cls, result: object) -> DayOutcome | None:
        """The outcome in a stored result, or None when it is not one (the flow broke
        before it finished: its state's message then says why)."""
        if not isinstance(result, dict):
            return None
        try:
            return cls.of(
                str(result["as_of"]),
                result["synced"],
                result.get("states") or {},
                result["sent"],
                result.get("artifacts") or [],
                int(result.get("feeds") or 0),
                cockpit_problem=str(result.get("cockpit_problem") or ""),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def of(
        cls,
        as_of: str,
        synced: list[dict[str, Any]],
        states: dict[str, int],
        sent: dict[str, Any],
        artifacts: list[str],
        feeds: int,
        *,
        cockpit_problem: str = "",
    ) -> DayOutcome:
        """From what the flow's tasks report (each a JSON-ready dict or list)."""
        return cls(
            as_of=as_of,
            synced=[Synced(**_known(Synced, s)) for s in synced],
            states=dict(states),
            sent=Sent(**_known(Sent, sent)),
            artifacts=[str(a) for a in artifacts],
            feeds=feeds,
            cockpit_problem=cockpit_problem,
        )


def _known(kind: type, values: dict[str, Any]) -> dict[str, Any]:
    """The fields `kind` declares (a task may report more than the outcome keeps)."""
    names = {f.name for f in fields(kind)}
    return {k: v for k, v in values.items() if k in names}
