"""The production topology on one machine, as separate processes standing for machines.

    scripts/deploy-local start ROOT [--workers 2] [--limit 2] [--env KEY=VALUE ...]
                               [--deploy NAME ...]
    scripts/deploy-local lose ROOT worker-2     # a machine lost: the worker and its runs
    scripts/deploy-local stop ROOT

`start` finds or starts PostgreSQL (scripts/test-postgres), makes two databases on it
(govcal's and Prefect's), starts a Prefect server on Prefect's and, while it starts,
migrates govcal's and starts `govcal web`; then it creates the `govcal` work pool, deploys
prefect.yaml's flows (all, or those named) beside creating the zombie automation
(deploy/zombie-shares.yaml), and starts the workers.
Each process has a data folder of its own under ROOT (`web/`, `worker-1/`, ...): they
share nothing but PostgreSQL, the network and the evidence store's URL (ROOT/object-store,
standing for s3://...). Each runs in a process group of its own, so killing one group is
a machine lost (`lose` kills a worker and every flow run it started at once, as a power
cut would). Each worker runs at most `--limit` flow runs at once (a machine's share of the
pool: two on a two-core machine). What runs where is written to ROOT/topology.json (and
printed); `stop` ends every process it lists.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_admin() -> str:
    done = subprocess.run(
        ["bash", "scripts/test-postgres"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"no PostgreSQL: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def database(admin: str, name: str) -> str:
    """A new, empty database on the admin URL's server; its URL (no driver)."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + f"/{name}"


def _answers(url: str, auth: str | None = None) -> bool:
    request = urllib.request.Request(url)
    if auth:
        import base64

        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _wait(
    url: str,
    what: str,
    process: subprocess.Popen[bytes],
    auth: str | None = None,
    timeout: float = 180,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}; see its log")
        if _answers(url, auth):
            return
        time.sleep(0.5)
    raise SystemExit(f"{what} did not answer {url} within {timeout:.0f} s")


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A process in a group of its own (a machine of its own: killing the group ends it
    and every flow run it started), its output in `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def _run_together(commands: list[list[str]], env: dict[str, str]) -> None:
    """Commands that need nothing of each other, run at once (each a Prefect CLI start)."""
    pipe = subprocess.PIPE
    running = [
        subprocess.Popen(c, cwd=ROOT, env=env, stdout=pipe, stderr=pipe, text=True)
        for c in commands
    ]
    for command, process in zip(commands, running, strict=True):
        out, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{out[-2000:]}{err[-2000:]}")


def machine_env(shared: dict[str, str], root: Path, folder: str) -> dict[str, str]:
    """One machine's environment: the shared settings and a data folder of its own."""
    return shared | {
        "GOVCAL_DATA_DIR": str(root / folder),
        "PREFECT_HOME": str(root / folder / "p"),
    }


def environment_of(topology: dict[str, Any], folder: str) -> dict[str, str]:
    """A process beside a started topology, as one more machine: this environment without
    its own Prefect and govcal settings, the topology's, and a data folder of its own."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GOVCAL_"))}
    return machine_env(base | topology["env"], Path(topology["root"]), folder)


def start(
    root: Path, workers: int, extra: dict[str, str], deploy: list[str], limit: int = 2
) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    for name in ("prefect-server", "ops", "web", *(f"worker-{n}" for n in range(1, workers + 1))):
        (root / name).mkdir(mode=0o700, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    admin = postgres_admin()
    govcal_db = database(admin, f"govcal_local_{tag}")
    prefect_db = database(admin, f"prefect_local_{tag}")
    login = f"govcal:{secrets.token_urlsafe(24)}"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GOVCAL_"))}
    base["PATH"] = f"{BIN}:{base.get('PATH', '')}"
    topology: dict[str, Any] = {
        "root": str(root),
        "processes": {},
        "databases": {
            "admin": admin,
            "govcal": f"govcal_local_{tag}",
            "prefect": f"prefect_local_{tag}",
        },
    }
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server_env = base | {
        "PREFECT_HOME": str(root / "prefect-server"),
        "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db.replace(
            "postgresql://", "postgresql+asyncpg://", 1
        ),
        "PREFECT_SERVER_API_AUTH_STRING": login,
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    server = _start(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        server_env,
        root / "prefect-server.log",
    )
    topology["processes"]["prefect-server"] = server.pid
    _save(root, topology)
    store = root / "object-store"
    client = (
        base
        | {
            "PREFECT_API_URL": api,
            "PREFECT_API_AUTH_STRING": login,
            "GOVCAL_DATABASE_URL": govcal_db.replace("postgresql://", "postgresql+psycopg://", 1),
            "GOVCAL_EVIDENCE_STORE_URL": f"file://{store}",
            "GOVCAL_WEB_SECRET": secrets.token_urlsafe(32),
            # heartbeats every 30 s, so a run whose machine died is marked Crashed (the zombie
            # automation) and its share is run again
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
            "PREFECT_WORKER_QUERY_SECONDS": "5",  # a free worker takes the next share within 5 s
        }
        | extra
    )
    web_port = free_port()
    client["GOVCAL_PUBLIC_URL"] = f"http://127.0.0.1:{web_port}"
    client["GOVCAL_PUBLIC_URL_ALLOW_HTTP_LOOPBACK"] = "true"
    ops = machine_env(client, root, "ops")
    # govcal's database and web app need no Prefect: made ready while the server starts
    _run([str(BIN / "govcal"), "db", "upgrade"], ops)
    web_env = machine_env(client, root, "web")
    web = _start([str(BIN / "govcal"), "web", "--port", str(web_port)], web_env, root / "web.log")
    topology["processes"]["web"] = web.pid
    _save(root, topology)
    _wait(f"{api}/health", "the Prefect server", server, login)
    _run([str(BIN / "prefect"), "work-pool", "create", "govcal", "--type", "process"], ops)
    names = [a for name in deploy for a in ("--name", name)] or ["--all"]
    zombies = ["--from-file", str(ROOT / "deploy" / "zombie-shares.yaml")]
    _run_together(
        [
            [str(BIN / "prefect"), "--no-prompt", "deploy", *names],
            [str(BIN / "prefect"), "automation", "create", *zombies],
        ],
        ops,
    )
    _wait(f"http://127.0.0.1:{web_port}/healthz", "govcal web", web)
    for number in range(1, workers + 1):
        name = f"worker-{number}"
        env = machine_env(client, root, name)
        worker = _start(
            [
                str(BIN / "prefect"),
                "worker",
                "start",
                "--pool",
                "govcal",
                "--type",
                "process",
                "--name",
                name,
                "--limit",
                str(limit),
            ],
            env,
            root / f"{name}.log",
        )
        topology["processes"][name] = worker.pid
    topology |= {
        "api": api,
        "login": login,
        "web": client["GOVCAL_PUBLIC_URL"],
        "store": str(store),
        "env": client,
    }
    _save(root, topology)
    return topology


def _save(root: Path, topology: dict[str, Any]) -> None:
    path = root / "topology.json"
    path.write_text(json.dumps(topology, indent=2), encoding="utf-8")
    path.chmod(0o600)  # it holds the login


def tree(pid: int) -> list[int]:
    """`pid` and every process descended from it (a flow run may start a group of its own,
    so the process group alone is not the whole machine)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _kill(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue


def lose(root: Path, name: str) -> list[int]:
    """A machine lost: its process and everything it started, killed at once."""
    topology = json.loads((root / "topology.json").read_text(encoding="utf-8"))
    pids = tree(topology["processes"][name])
    _kill(pids, signal.SIGKILL)
    return pids


def stop(root: Path) -> list[str]:
    """End every process the topology lists, with what it started; drop its databases.
    The Prefect server goes last: a worker ends at once on SIGTERM while the server
    answers, but lingers about 10 s once it is gone (measured)."""
    path = root / "topology.json"
    if not path.exists():
        return []
    topology = json.loads(path.read_text(encoding="utf-8"))
    every = {name: tree(pid) for name, pid in topology["processes"].items()}
    _end([p for name, ps in every.items() if name != "prefect-server" for p in ps])
    _end(every.get("prefect-server", []))
    _drop(topology["databases"])
    return list(every)


def _running(pid: int) -> bool:
    """Not ended: a zombie has ended and waits only for its parent to read its status."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _end(pids: list[int], grace: float = 10) -> None:
    """SIGTERM, then SIGKILL what is still running after `grace` seconds."""
    _kill(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.2)
    _kill(pids, signal.SIGKILL)


def _drop(databases: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(databases["admin"], autocommit=True) as conn:
        for key in ("govcal", "prefect"):
            conn.execute(f'DROP DATABASE IF EXISTS "{databases[key]}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "lose"])
    parser.add_argument("root", type=Path)
    parser.add_argument("name", nargs="?", help="lose: the process to kill, e.g. worker-2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=2, help="flow runs at once per worker")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every process")
    parser.add_argument("--deploy", action="append", default=[], help="a deployment (default all)")
    args = parser.parse_args()
    root = args.root.resolve()
    if args.action == "stop":
        print("stopped: " + ", ".join(stop(root)))
        return
    if args.action == "lose":
        print(f"killed {args.name}: processes {lose(root, args.name)}")
        return
    extra = dict(item.split("=", 1) for item in args.env)
    try:
        topology = start(root, args.workers, extra, args.deploy, args.limit)
    except BaseException:
        stop(root)
        raise
    shown = {k: v for k, v in topology.items() if k not in ("env", "login")}
    print(json.dumps(shown, indent=2))


if __name__ == "__main__":
    main()
