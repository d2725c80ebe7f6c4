"""A refused form ends as one red line: the Failed state its flow returns, with the
reason as the state's message.

Prefect's engine, run by a worker or a runner, then asks for the run's result, which
raises the FailedRun that wraps a returned Failed state, and logs it as an ERROR with a
40-line traceback under the one line. That record says nothing the state does not, so
this filter drops it; a real error (any other exception, a crash) keeps its traceback.
"""

from __future__ import annotations

import logging

from prefect.exceptions import FailedRun

ENGINE_LOGGER = "prefect.flow_runs"


class ReturnedFailure(logging.Filter):
    """Drop the engine's record of a Failed state the flow returned on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, FailedRun)


def quiet_returned_failures() -> None:
    """Install the filter once on the logger the engine's run logger writes to."""
    logger = logging.getLogger(ENGINE_LOGGER)
    if not any(isinstance(f, ReturnedFailure) for f in logger.filters):
        logger.addFilter(ReturnedFailure())
