"""The CLI reads the partnerships the last command loaded while the rule files, the
baseline and the code are unchanged; any change is seen at once, and rule files with
problems are reported on every run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from govcal.models import rule_cache
from tests.support.rules import VALID_HEADER, VALID_RULE

ROOT = Path(__file__).resolve().parent.parent


def govcal(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "govcal.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_an_edited_rule_file_is_seen_by_the_next_command(rule_file, tmp_path):
    path = rule_file(VALID_HEADER + VALID_RULE)
    env = {"GOVCAL_RULES_PATH": str(path), "GOVCAL_DEFAULT_PARTNERSHIP": "testscp"}
    first = govcal("plan", "--from", "2026-01-01", "--to", "2026-12-31", **env)
    assert first.returncode == 0, first.stderr
    assert "LSP meeting" in first.stdout and "moved" not in first.stdout
    assert list((tmp_path / "data" / "cache").glob("rules-*.pickle"))  # the copy was kept

    path.write_text(path.read_text().replace("LSP meeting", "LSP meeting (moved)"))
    edited = govcal("plan", "--from", "2026-01-01", "--to", "2026-12-31", **env)
    assert "LSP meeting (moved)" in edited.stdout

    path.write_text(path.read_text().replace("kind: meeting", "kind: gathering"))
    for _ in range(2):  # problems are never kept: reported on every run
        broken = govcal("plan", **env)
        assert broken.returncode == 1
        assert "kind" in broken.stderr and "nothing was loaded" in broken.stderr


def test_the_copy_gives_the_same_partnerships_and_a_damaged_copy_is_ignored(tmp_path):
    cache = tmp_path / "cache"
    rule_cache._loaded.clear()  # a new process: nothing read yet
    parsed = rule_cache.load_partnerships(None, cache)
    rule_cache._loaded.clear()  # as a new process would
    kept = rule_cache.load_partnerships(None, cache)
    assert [p.id for p in kept] == [p.id for p in parsed]
    assert kept[0] is not parsed[0] and kept == parsed  # read from the copy, equal

    [copy] = cache.glob("rules-*.pickle")
    copy.write_bytes(copy.read_bytes()[:200])  # cut short (a full disk)
    rule_cache._loaded.clear()
    assert rule_cache.load_partnerships(None, cache) == parsed


def test_a_data_folder_that_cannot_be_written_only_costs_time(tmp_path):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder would be")
    rule_cache._loaded.clear()
    assert [p.id for p in rule_cache.load_partnerships(None, blocked)]


def test_a_copy_anyone_else_could_have_written_is_never_unpickled(tmp_path):
    """Unpickling runs code: a copy made writable by others (or a folder that is) is
    ignored and the rule files are read again; govcal's own copies are private."""
    cache = tmp_path / "cache"
    rule_cache._loaded.clear()
    parsed = rule_cache.load_partnerships(None, cache)
    [copy] = cache.glob("rules-*.pickle")
    assert copy.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700
    head = copy.read_bytes().partition(b"\n")[0]
    planted = tmp_path / "planted"
    # what a stranger would plant: a valid key line and a pickle that runs a command
    payload = b"cos\nsystem\n(S'touch " + str(planted).encode() + b"'\ntR."
    for folder_mode, file_mode in ((0o700, 0o666), (0o777, 0o600)):
        copy.chmod(0o600)
        copy.write_bytes(head + b"\n" + payload)  # planted afresh: a refused copy is remade
        cache.chmod(folder_mode)
        copy.chmod(file_mode)
        rule_cache._loaded.clear()
        assert rule_cache.load_partnerships(None, cache) == parsed
        assert not planted.exists()
