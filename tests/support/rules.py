"""Rule-file builders and the assertion helper for rule problems."""

from __future__ import annotations

import pytest

from govcal.rules.loader import RuleFileError, load_partnerships

VALID_HEADER = """\
partnership:
  id: testscp
  name: Test Safeguarding Children Partnership
  timezone: Europe/London
roles:
  lsp: Lead Safeguarding Partners
  dsp: Delegated Safeguarding Partners
  business-team: Business team
  scrutineer: Independent Scrutineer
events:
  serious-incident: LA becomes aware of a serious incident
obligations:
"""

VALID_RULE = """\
  - id: lsp-meeting
    title: LSP meeting
    kind: meeting
    owner: business-team
    attendees: [lsp, dsp]
    schedule:
      every: quarterly
      start: 2026-01-14 10:00
    evidence: Minutes
    source: 004 "Joint Lead Safeguarding Partners Meeting"
"""


def problems_of(*paths):
    """The problems loading these rule files reports (loading must fail)."""
    with pytest.raises(RuleFileError) as caught:
        load_partnerships(list(paths))
    return caught.value.problems
