"""Rule files are parsed once per process, and an edited file is parsed again."""

from __future__ import annotations

from govcal.rules.loader import load_partnerships
from tests.support.rules import VALID_HEADER, VALID_RULE


def test_the_same_file_is_parsed_once_and_an_edit_is_seen(rule_file):
    path = rule_file(VALID_HEADER + VALID_RULE)
    first = load_partnerships([path])
    again = load_partnerships([path])
    assert again[0] is first[0]  # the parsed partnership, not a fresh parse

    path.write_text(path.read_text().replace("LSP meeting", "LSP meeting (moved)"))
    edited = load_partnerships([path])
    assert edited[0] is not first[0]
    assert edited[0].rules[0].title == "LSP meeting (moved)"
