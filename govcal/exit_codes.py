"""Exit codes of `govcal notify` and `govcal run`, documented in the README.

A cron job or a service manager sees from the code alone whether mail is stuck."""

from __future__ import annotations

OK = 0  # everything due was delivered (or nothing was due)
ERROR = 1  # bad input or an unreachable database: nothing was changed
SETTINGS = 2  # a setting nobody can use, or a wrong option: nothing was done
LEFT_TO_RETRY = 3  # some messages could not go now; a later run retries them
FAILED = 4  # some messages were refused for good; a person must act (see the digest)
COCKPIT = 5  # govcal run: the day's work was done, but Prefect's API did not take the
# dashboard's artifacts (the server down or refusing): a person must look at the server


def delivery_exit_code(to_retry: int, failed: int, cockpit_problem: str = "") -> int:
    """FAILED wins over COCKPIT, and both over LEFT_TO_RETRY: a refusal needs a person
    before anything else, a retry needs nobody."""
    if failed:
        return FAILED
    if cockpit_problem:
        return COCKPIT
    return LEFT_TO_RETRY if to_retry else OK
