"""The forms' deployments as the business team sees them in the Prefect UI: named for
what a person does, by flow name. prefect.yaml gives the same names (a test compares),
with the tag `form` to filter the Deployments list by; the scheduled jobs carry `job`.
"""

from __future__ import annotations

FORM_TAG = "form"
JOB_TAG = "job"

FORM_TITLES = {
    "record-completion": "Record a completion",
    "record-return": "Record a return",
    "review-return": "Review a return",
    "record-attendance": "Record attendance",
    "acknowledge-escalation": "Acknowledge an escalation",
    "reschedule": "Move a meeting or deadline",
    "cancel-item": "Cancel an item",
    "waive-item": "Waive an item",
    "reopen-item": "Reopen an item",
    "start-incident-clock": "Start incident clocks",
    "evidence-pack": "Make the evidence pack",
}


def deployment_of(flow_name: str) -> str:
    """The deployment's name for a flow: its form's title, or the flow's own name (a job)."""
    return FORM_TITLES.get(flow_name, flow_name)
