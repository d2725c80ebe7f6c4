"""The CPU a command costs with every process it starts, orphans included, and the
PostgreSQL backends serving the databases it names: for tests and topologies whose
processes outlive their parents (`scripts/deploy-local start` exits and leaves its
server, web app and workers running), which /usr/bin/time does not count.

    .venv/bin/python -m bench.cputime [--databases REGEX] -- COMMAND ...

Runs COMMAND as a child subreaper (Linux's PR_SET_CHILD_SUBREAPER): every orphan of
its tree becomes this process's child, is reaped here and so counts in RUSAGE_CHILDREN.
PostgreSQL backends are sampled every 0.3 s from /proc (a backend's last fraction of a
second before it exits is missed), summed per database whose name matches REGEX. Prints
one line to stderr, with the load average before and after: figures only.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections import defaultdict

PR_SET_CHILD_SUBREAPER = 36
_BACKEND = re.compile(r"postgres: (?:\S+: )?\S+ (\S+) ")


def _backends(seen: dict[int, tuple[str, float]], stop: threading.Event) -> None:
    """Each PostgreSQL backend's database and the most CPU seen of it, by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    while not stop.is_set():
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    command = f.read().replace(b"\0", b" ").decode(errors="replace")
                match = _BACKEND.match(command)
                if match is None:
                    continue
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu = (int(fields[11]) + int(fields[12])) / tick
            pid = int(entry)
            if pid not in seen or seen[pid][1] < cpu:
                seen[pid] = (match.group(1), cpu)
        stop.wait(0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="^$", help="a regex of database names")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    seen: dict[int, tuple[str, float]] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_backends, args=(seen, stop), daemon=True)
    sampler.start()
    load, start = os.getloadavg()[0], time.monotonic()
    main_pid = subprocess.Popen(command).pid
    status = 1
    while True:  # reap the command and every orphan of its tree
        try:
            pid, wait_status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == main_pid:
            status = os.waitstatus_to_exitcode(wait_status)
    wall = time.monotonic() - start
    stop.set()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    pattern = re.compile(args.databases)
    databases: dict[str, float] = defaultdict(float)
    for name, cpu in seen.values():
        if pattern.search(name):
            databases[name] += cpu
    shown = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(databases.items())) or "none"
    print(
        f"bench.cputime: wall {wall:.1f} s; CPU of the command and all it started "
        f"{used.ru_utime + used.ru_stime:.1f} s (user {used.ru_utime:.1f}, sys "
        f"{used.ru_stime:.1f}); PostgreSQL backends: {shown}; load average "
        f"{load:.2f} before, {os.getloadavg()[0]:.2f} after",
        file=sys.stderr,
    )
    sys.exit(status)


if __name__ == "__main__":
    main()
