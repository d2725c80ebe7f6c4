"""Audit the pinned dependency set (requirements.lock) for known vulnerabilities.

Why not plain pip-audit: this network's PyPI serves the project JSON API
(/pypi/NAME/json, whose `vulnerabilities` field covers the latest release) but not the
per-version one pip-audit asks for (/pypi/NAME/VERSION/json answers 404), and OSV is
unreachable. So a pin that is the latest release is audited for real; an older pin is
listed as not auditable here, with the release that would be. Exit 1 on any known
vulnerability, 0 otherwise.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)")


def pins(lock: Path) -> list[tuple[str, str]]:
    found = []
    for line in lock.read_text().splitlines():
        if match := PIN.match(line.strip()):
            found.append((re.sub(r"\[.*\]", "", match[1]), match[2]))
    return found


def project(name: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=30) as r:
            return json.load(r)
    except Exception as exc:  # reported as not audited, never hidden
        return {"error": f"{type(exc).__name__}: {exc}"}


def main() -> int:
    pinned = pins(LOCK)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda p: project(p[0]), pinned))
    vulnerable, unaudited, clean = [], [], 0
    for (name, version), data in zip(pinned, answers, strict=True):
        if not data or "error" in data:
            unaudited.append(f"{name}=={version}: registry error {data and data['error']}")
        elif data["info"]["version"] != version:
            unaudited.append(f"{name}=={version}: latest is {data['info']['version']}")
        elif data.get("vulnerabilities"):
            ids = ", ".join(v.get("id", "?") for v in data["vulnerabilities"])
            vulnerable.append(f"{name}=={version}: {ids}")
        else:
            clean += 1
    print(
        f"{len(pinned)} pinned packages: {clean} audited with no known vulnerability, "
        f"{len(vulnerable)} vulnerable, {len(unaudited)} not auditable on this network"
    )
    for line in unaudited:
        print(f"  not audited: {line}")
    for line in vulnerable:
        print(f"  VULNERABLE: {line}")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
