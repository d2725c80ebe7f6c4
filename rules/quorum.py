"""Who is coming to a meeting, and whether those who must be there are: pure, no I/O.

Answers are words (models.attendance.Answer values): coming, not-coming, tentative,
deputy; an invitee with none has not answered. A rule's `quorum:` names the roles that
must be present: each holder must be coming, or send a deputy. A set number of working
days before the meeting, anyone who declined without a deputy or has not answered puts
the quorum at risk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from govcal.rules.workdays import working_days_between

QUORUM_WARNING_WORKING_DAYS = 5  # the business team's digest and the cockpit warn from here
_ORDER = ("coming", "deputy", "tentative", "not-coming")


@dataclass(frozen=True, slots=True)
class Tally:
    """Each invitee's answer, by answer; `no_answer` in the order invited."""

    by_answer: Mapping[str, tuple[str, ...]]
    no_answer: tuple[str, ...]

    def line(self) -> str:
        """'3 coming, 1 deputy, 2 no answer' (answers that nobody gave are left out)."""
        said = [
            f"{len(self.by_answer[a])} {a.replace('-', ' ')}"
            for a in _ORDER
            if self.by_answer.get(a)
        ]
        if self.no_answer:
            said.append(f"{len(self.no_answer)} no answer")
        return ", ".join(said) or "nobody invited yet"


def tally(invited: Iterable[str], answers: Mapping[str, str]) -> Tally:
    """Answers of the invited (lower-cased addresses); an answer from an address not
    invited is not counted."""
    people = list(dict.fromkeys(a.lower() for a in invited))
    by_answer: dict[str, list[str]] = {}
    for person in people:
        if person in answers:
            by_answer.setdefault(answers[person], []).append(person)
    return Tally(
        {k: tuple(v) for k, v in by_answer.items()}, tuple(p for p in people if p not in answers)
    )


@dataclass(frozen=True, slots=True)
class QuorumRisk:
    declined: tuple[str, ...]  # declined without a deputy
    unanswered: tuple[str, ...]

    def line(self) -> str:
        said = []
        if self.declined:
            said.append(f"declined without a deputy: {', '.join(self.declined)}")
        if self.unanswered:
            said.append(f"not answered: {', '.join(self.unanswered)}")
        return "; ".join(said)


def quorum_at_risk(required: Iterable[str], answers: Mapping[str, str]) -> QuorumRisk | None:
    """None when everyone who must be present is coming or sends a deputy (a tentative
    answer is an answer: the warning is for silence and refusals)."""
    people = list(dict.fromkeys(a.lower() for a in required))
    declined = tuple(p for p in people if answers.get(p) == "not-coming")
    unanswered = tuple(p for p in people if p not in answers)
    return QuorumRisk(declined, unanswered) if declined or unanswered else None


def warns(meeting: date, today: date, working_days: int = QUORUM_WARNING_WORKING_DAYS) -> bool:
    """From `working_days` working days before the meeting until its day."""
    return today <= meeting and working_days_between(today, meeting) <= working_days
