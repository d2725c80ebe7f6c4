"""Every link in README.md and docs/ resolves inside the repository: a file that exists,
or a heading of the page it points to. Nothing outside the repository (no ../shared)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading slugs: lower case, punctuation dropped, spaces to dashes."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_resolves_inside_the_repository(page):
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if (
            not file.is_relative_to(ROOT)
            or not file.exists()
            or (anchor and anchor not in anchors(file))
        ):
            broken.append(target)
    assert broken == []
    assert "../shared" not in page.read_text(encoding="utf-8")  # not part of the repository


def test_the_readme_names_the_sections_others_point_to():
    assert {"production", "running-the-tests", "screenshots"} <= anchors(ROOT / "README.md")
