"""Is a typed or imported text safe to store and show again?

Every text a person types or imports (names, roles, emails, --by, GOVCAL_ACTOR,
reasons, evidence links and notes, locations, actions, ids) is later written into
emails, invites, feeds, audit trails and evidence packs. A control character (NUL, ESC,
a line break, DEL, C1) or a bidirectional override there can inject a header, break a
table row or disguise text on a terminal, and a 100 KB value fills every screen it is
echoed on. One check, with one limit per kind of field, refused in one line that names
the field and never repeats the value. Records stored before the check existed may still
hold such characters, so names read back for an email, a feed or an artifact pass through
`shown` on the way out. Pure: no I/O.
"""

from __future__ import annotations

import re

from govcal.rules.errors import Refused

NAME = 200  # names, roles, --by, locations, ids, emails
LONG = 2000  # reasons, notes, actions, links

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_DIRECTION = re.compile("[\u202a-\u202e\u2066-\u2069]")
# an RFC 2047 encoded word (=?charset?B?...?=): a mail reader decodes it into any text,
# a line break and a forged header included, so none is ever stored or written out
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[^?\s]*\?.*?\?=", re.S)
_FORMULA = re.compile(r"^(=|[+\-@].*[(!|])")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(?::[A-Za-z0-9/_.-]+){2,3}")


class TextRefused(Refused):
    """A text has a control character or is too long; the message names the field."""


def check_text(value: str | None, field: str, limit: int = NAME) -> str | None:
    """`value` unchanged when it is safe to store, else TextRefused naming `field`."""
    if value is None:
        return None
    if len(value) > limit:
        raise TextRefused(
            f"{field} is {len(value):,} characters long; the limit is {limit:,}; shorten it"
        )
    if _CONTROL.search(value):
        raise TextRefused(
            f"{field} contains a control character, line break or direction override; "
            "type it again as plain text on one line"
        )
    if _ENCODED_WORD.search(value):
        raise TextRefused(
            f"{field} contains an encoded word (=?charset?...?=) a mail reader would decode; "
            "type the text itself"
        )
    return value


UNUSABLE_ADDRESS = (
    "the address holds a space, control character or direction override; correct it in "
    "the directory"
)


def address_problem(address: str) -> str | None:
    """Why no message can go to this stored address (a space, a control character or a
    direction override: it would reach a header and the relay's RCPT), or None."""
    if not address or any(c.isspace() for c in address) or _CONTROL.search(address):
        return UNUSABLE_ADDRESS
    return None


# in a rule file: line feeds are a block scalar's own (`notes: |`); nothing else
_FILE_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def file_text_problem(value: str) -> str | None:
    """What is wrong with a text written in a rule file (a title, a name, a note), or
    None: a control character (a NUL PostgreSQL refuses, an ESC a terminal obeys) or a
    direction override, written as an escape such as "\\0" or "\\e", or an encoded word."""
    if _FILE_CONTROL.search(value):
        return (
            "this value contains a control character or direction override (perhaps an "
            'escape such as "\\0" or "\\e"); write it as plain text'
        )
    if _ENCODED_WORD.search(value):
        return "this value contains an encoded word (=?charset?...?=); write the text itself"
    return None


def unencoded(value: str) -> str:
    """`value` with every encoded-word opener broken (`=?` -> `= ?`), so that no mail
    parser can decode it into other text: for stored text that predates the check."""
    return value.replace("=?", "= ?") if _ENCODED_WORD.search(value) else value


def shown(value: str | None) -> str:
    """A stored text as it may be shown: direction overrides and isolates dropped
    (they could make "gpj.exe" read as "exe.jpg"), every other control character and
    line break a space (they could add a mail header or a table row), on one line; an
    encoded word is broken so no mail reader decodes it into a header."""
    if not value:
        return ""
    text = unencoded(_DIRECTION.sub("", value))
    if not _CONTROL.search(text):
        return text
    return " ".join(_CONTROL.sub(" ", text).split())


_MARKDOWN = re.compile(r"([\\`*_\[\]#!|~])")  # not ( ): no link without its [ ], escaped
_AUTOLINK = re.compile(r"(?i)(?<=[a-z0-9])\:(?=//)|\bwww\.|@")


def markdown_text(value: object) -> str:
    """Any text as it may go into Prefect's markdown (an artifact, a table cell, a
    description): on one line (`shown`), `&`, `<` and `>` as entities (no raw HTML), and
    every character markdown acts on backslash-escaped, so a name holding `![x](url)` or
    `[Click](url)` is shown as typed, never fetched or made a link. The one function for
    every artifact's markdown: the cockpit's summary, the tables' descriptions, the
    evidence pack (a table's cells: `table_cell`)."""
    text = shown(str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN.sub(r"\\\1", text)
    # a bare address is made a live link by GFM's autolinks: break the pattern, not the text
    return _AUTOLINK.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], text)


# ZERO WIDTH NO-BREAK SPACE: nothing on screen, and whitespace to V1's parser (JavaScript's
# \s holds it), so a `*` before it opens no emphasis there
INVISIBLE = "\ufeff"
_CELL_BREAKS = re.compile(
    r"<(?=[A-Za-z/!?])"  # an HTML tag, comment or <scheme:...> link
    r"|&(?=#?\w+;)"  # an entity (&amp; would read "&")
    r"|\\(?=[!-/:-@\[-`{-~])"  # a backslash escape (\* would read "*")
    r"|\](?=[(\[:])"  # [text](url), ![alt](src), [text][ref], [ref]: url
    r"|:(?=//)|(?i:www)(?=\.)|@(?=[\w-])"  # an address GFM makes a link by itself
    r"|\*+(?=[^\s*])|~+(?=[^\s~])|(?<!\w)_+(?=[^\s_])"  # what could open emphasis or ~~del~~
)
# what makes a one-line cell a heading, quote, list, rule or code block
_CELL_BLOCK = re.compile(r"\s|[#>]|[*+-](?:\s|$)|\d{1,9}[.)](?:\s|$)|~~~|([-*_])(?:\s*\1){2}")


def table_cell(value: object) -> str:
    """Text for a table artifact's cell, read as typed in both of Prefect's UIs: V2 shows a
    cell as plain text (an escape such as `&amp;` or `\\*` would be on screen), V1 renders
    it as markdown (marked, with GFM). So the text is left as it is, and only where V1 would
    make markup of it an invisible character (INVISIBLE) is put in: after `<` before a
    tag, `&` before an entity, `]` before `(`, a delimiter that could open emphasis, `:`
    before `//`, and before a line that would be a heading, list or quote; two or more
    backticks (a code span) become the look-alike `ˋ`. On one line, as `shown`."""
    typed = shown(str(value))
    text = _CELL_BREAKS.sub(lambda m: m.group(0) + INVISIBLE, typed)
    if text.count("`") > 1:
        text = text.replace("`", "\u02cb")
    return INVISIBLE + text if _CELL_BLOCK.match(typed) else text


def markdown_code(value: object) -> str:
    """An id as a markdown code span holds it: nothing inside a span is markdown, so only
    a backtick (which would end the span early) is changed, and the text kept on one line."""
    return shown(str(value)).replace("`", "'")


def check_id(value: str, field: str = "the id") -> str:
    """An occurrence id: short plain text (a long one is not an id, whatever it holds)."""
    if len(value) > NAME or _CONTROL.search(value):
        raise TextRefused(
            f"{field} given is not a valid id; copy it from the reminder email or the "
            "compliance summary"
        )
    return value


def check_cell(value: str, field: str) -> str:
    """A CSV cell: as `check_text`, and never a spreadsheet formula (=, +, -, @ ...)."""
    check_text(value, field)
    if _FORMULA.match(value):
        raise TextRefused(
            f"{field} starts like a spreadsheet formula (=, +, -, @); remove the formula"
        )
    return value


def pasted_id(text: str) -> str | None:
    """The occurrence id in what a person pasted from an email or README, or None:
    surrounding quotes, backticks, angle brackets, "Id:" and a trailing full stop are
    ignored. Used by the command line and the Prefect forms alike."""
    if len(text) > NAME:
        return None  # not an id; a long value is refused as one later, not searched
    found = _ID.search(text.strip().strip("`'\"<>"))
    return found.group(0).rstrip(".") if found else None
