"""Rule files written to hurt: each one is a single `file:line:` problem, quickly, in
bounded memory. Each load runs in a child process with its address space capped and a
timeout, so a regression fails the test instead of hanging or swapping the machine."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from tests.support.rules import VALID_HEADER, VALID_RULE

SERVER = r"""
import json, os, resource, sys, time, traceback
from pathlib import Path
from govcal.rules.expand import expand
from govcal.rules.loader import RuleFileError, load_partnerships
from datetime import date

def vm_size():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024

def load(path):
    problems = []
    try:
        for p in load_partnerships([path]):
            expand(p, date(2020, 1, 1), date(2030, 12, 31))
    except RuleFileError as exc:
        problems = [str(p) for p in exc.problems]
    return problems

def measured(path):
    limit = vm_size() + 200 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    problems = load(path)
    cpu = time.process_time() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {"problems": problems, "cpu": cpu, "grown_kb": grown}

load(Path(sys.argv[1]))  # every lazy import done once, before any fork
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            answer = measured(Path(line.rstrip("\n")))
        except BaseException:
            answer = {"error": traceback.format_exc()[-2000:]}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status:
        sys.stdout.write(json.dumps({"error": f"the child ended with status {status}"}) + "\n")
        sys.stdout.flush()
"""

ROOT = Path(__file__).resolve().parents[1]
PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<message>.+)$")


@pytest.fixture(scope="module")
def load_in_child(tmp_path_factory):
    """Load a path in a child capped at its own size + 200 MB; 60 s is a hang, not
    slowness. The children are forked from one process that has imported the loader
    (a fresh interpreter per file cost about 1 s each on busy cores): each load still
    has its own process, cap, CPU clock and memory high-water mark."""
    warm = tmp_path_factory.mktemp("warm") / "good.yaml"
    warm.write_text(VALID_HEADER + VALID_RULE, encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(warm)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )

    def load(path: Path) -> dict:
        server.stdin.write(f"{path}\n")
        server.stdin.flush()
        ready, _, _ = select.select([server.stdout], [], [], 60)
        if not ready:
            os.killpg(server.pid, signal.SIGKILL)
            pytest.fail(f"loading {path} took over 60 s: a hang")
        line = server.stdout.readline()
        assert line, "the loader process died"
        outcome = json.loads(line)
        assert "error" not in outcome, outcome["error"]
        return outcome

    yield load
    server.stdin.close()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def rule_file_text(**schedule: str) -> str:
    lines = "".join(f"      {k}: {v}\n" for k, v in schedule.items())
    return VALID_HEADER + VALID_RULE.replace(
        "      every: quarterly\n      start: 2026-01-14 10:00\n", lines
    )


LETTERS = "abcdefghi"
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{new}: &{new} [{','.join([f'*{old}'] * 9)}]\n" for old, new in pairwise(LETTERS)
)


def test_the_bomb_is_the_classic_billion_laughs():
    assert len(BOMB) < 900 and BOMB.count("*") == 72  # 9**9 strings once expanded


HOSTILE = {
    "interval-0": rule_file_text(rrule="FREQ=DAILY;INTERVAL=0", start="2026-01-01"),
    "secondly": rule_file_text(rrule="FREQ=SECONDLY", start="2026-01-01 10:00"),
    "minutely": rule_file_text(rrule="FREQ=MINUTELY;INTERVAL=1", start="2026-01-01 10:00"),
    "hourly": rule_file_text(rrule="FREQ=HOURLY", start="2026-01-01 10:00"),
    "by-minute": rule_file_text(
        rrule="FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11;BYMINUTE=0,1,2,3,4,5",
        start="2026-01-01 10:00",
    ),
    "huge-interval": rule_file_text(rrule="FREQ=YEARLY;INTERVAL=99999999", start="2026-01-01"),
    "huge-every": rule_file_text(every="every 9999999 years", start="2026-01-01"),
    "far-start": rule_file_text(every="monthly", start="9999-12-01"),
    "huge-offset": VALID_HEADER
    + VALID_RULE
    + (
        "  - id: papers\n    title: Papers\n    kind: action\n    owner: business-team\n"
        "    schedule: {rule: lsp-meeting, before: 99999999 years}\n"
        "    evidence: Pack\n    source: local practice\n"
    ),
    "huge-duration": VALID_HEADER
    + VALID_RULE.replace("    evidence: Minutes\n", "    duration: 9999h\n    evidence: Minutes\n"),
    "huge-number": VALID_HEADER
    + VALID_RULE.replace("every: quarterly", "every: every " + "9" * 5000 + " days"),
    "alias-bomb": BOMB,
    "recursive-alias": "a: &a [*a]\n",
    "deep-flow": "[" * 200_000 + "]" * 200_000 + "\n",
    "deep-mapping": "{a: " * 100_000 + "1" + "}" * 100_000 + "\n",
    "deep-block": "- " * 100_000 + "x\n",
    "too-many-values": "x: [" + "1," * 300_000 + "1]\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_rule_file_is_one_clear_problem(tmp_path, name, load_in_child):
    path = tmp_path / f"{name}.yaml"
    path.write_text(HOSTILE[name], encoding="utf-8")
    outcome = load_in_child(path)
    [problem] = outcome["problems"]
    match = PROBLEM_LINE.match(problem)
    assert match, problem
    assert match["file"].endswith(f"{name}.yaml")
    # bounded, not fast: a bomb runs for minutes; reading 300,000 values to the refusal
    # took 0.6 s on one of these machines and 1.15 s on a slower one
    assert outcome["cpu"] < 3.0, outcome
    assert outcome["grown_kb"] < 200 * 1024, outcome


def test_a_folder_named_like_a_rule_file_is_one_problem(tmp_path, load_in_child):
    (tmp_path / "x.yaml").mkdir()
    (tmp_path / "good.yaml").write_text(VALID_HEADER + VALID_RULE, encoding="utf-8")
    outcome = load_in_child(tmp_path)
    assert [p.split(": ", 1)[1] for p in outcome["problems"]] == [
        "is a folder, not a rule file; rename it or move it out of the rules folder"
    ]
    assert outcome["problems"][0].startswith(f"{tmp_path / 'x.yaml'}:0: ")


def test_a_pipe_named_like_a_rule_file_is_refused_without_reading_it(tmp_path, load_in_child):
    os.mkfifo(tmp_path / "pipe.yaml")  # reading it would block for ever
    outcome = load_in_child(tmp_path / "pipe.yaml")
    [problem] = outcome["problems"]
    assert "is not a regular file" in problem


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, load_in_child):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(3 * 1024**3)  # 3 GB, sparse: costs no disk
    outcome = load_in_child(path)
    [problem] = outcome["problems"]
    assert "huge.yaml:0: is 3,221,225,472 bytes; a rule file is at most" in problem
    assert outcome["grown_kb"] < 200 * 1024


def test_a_large_text_file_under_the_byte_limit_is_refused_by_length(tmp_path, load_in_child):
    path = tmp_path / "long.yaml"
    path.write_text("# " + "x" * 1_500_000 + "\n", encoding="utf-8")
    [problem] = load_in_child(path)["problems"]
    assert "long.yaml:1: the file is 1,500,003 characters; a rule file is at most" in problem


def test_rules_check_prints_the_bomb_as_one_line_and_no_traceback(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "govcal.cli", "rules", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "bomb.yaml:2: alias '*a' is not allowed in a rule file" in result.stderr
