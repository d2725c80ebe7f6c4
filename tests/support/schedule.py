"""A pytest plugin (named in tests/conftest.py's `pytest_plugins`): the longest units of
work are collected first, so the two xdist workers start on them and share out the short
tests after, instead of one worker running a long chain alone at the end.

scripts/test runs `--dist loadgroup --no-loadscope-reorder`: each xdist group is one unit
of work, every other test a unit of its own, and units are handed out in collection
order (with the reorder, groups went first by their number of tests and the topology
test, one test of four minutes, came about two thirds of the way through). Worker one
takes the topology test and, queued behind it, the group sharing a Prefect test API;
worker two the tests sharing a real Prefect server; other tests that start a server or
a browser (marked slow) follow, then the rest in file order.
"""

from __future__ import annotations

import pytest

# Units of work by what they cost, longest first: a test file's path or an xdist group.
LONGEST_FIRST = ("tests/test_production_topology.py", "prefect-server", "prefect")


def _group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name"))


def _rank(item: pytest.Item) -> int:
    for rank, unit in enumerate(LONGEST_FIRST):
        if unit in (_group(item), item.nodeid.split("::")[0]):
            return rank
    return len(LONGEST_FIRST) + (0 if item.get_closest_marker("slow") else 1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: each file's tests keep their order
