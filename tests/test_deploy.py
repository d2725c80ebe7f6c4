"""deploy/compose.yaml: checked by `docker compose config` where the compose plugin is
installed, against the Compose Specification's JSON schema everywhere (check-jsonschema's
copy), and its shape checked here (this machine has the docker client without the
compose plugin or an engine: README says what was not run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.paths import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
LONG_RUNNING = {"postgres", "prefect", "web", "worker", "forms-runner"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # merge keys resolved


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    found = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return found.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="the docker compose plugin is not installed")
def test_docker_compose_accepts_the_file(tmp_path):
    """The tool's own validation (no engine needed for `config`)."""
    secrets = tmp_path / "secrets"
    shutil.copytree(DEPLOY, tmp_path, dirs_exist_ok=True)
    for name in ("postgres_password", "smtp_password", "prefect_auth", "web_secret"):
        (secrets / name).write_text("not-a-real-secret", encoding="utf-8")
    env = {
        **os.environ,
        "GOVCAL_SMTP_HOST": "relay.example.org",
        "GOVCAL_MAIL_FROM": "govcal@example.org",
        "GOVCAL_PUBLIC_URL": "https://govcal.example.org",
    }
    checked = subprocess.run(
        ["docker", "compose", "-f", str(tmp_path / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_file_meets_the_compose_specification():
    checked = _schema_check(COMPOSE)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_sees_a_misspelt_key(tmp_path):
    """The check itself can fail: a service key Compose does not know is refused."""
    bad = compose()
    bad["services"]["worker"]["restrat"] = "always"
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(bad), encoding="utf-8")
    checked = _schema_check(tmp_path / "compose.yaml")
    assert checked.returncode != 0 and "restrat" in checked.stdout


def test_every_long_running_service_has_a_health_check_and_a_restart_policy():
    services = compose()["services"]
    assert set(services) >= LONG_RUNNING, set(services)
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck", {})
        assert check.get("test") and check.get("interval"), name
        assert services[name].get("restart") == "unless-stopped", name


def test_the_web_apps_health_check_asks_for_a_page_the_app_answers(tmp_path, monkeypatch):
    """The health check's address is one the app answers with 200 (it asked for /, a
    404, so the container could never be healthy), and the app believes X-Forwarded-For
    only from the proxy the operator names, so people behind it are not one bucket."""
    import asyncio
    import re

    import httpx

    from govcal.flows.runtime import build_runtime
    from govcal.models.settings import get_settings
    from govcal.web.app import create_app

    web = compose()["services"]["web"]
    asked = re.search(r"http://127\.0\.0\.1:8080(/[^']*)", " ".join(web["healthcheck"]["test"]))
    assert asked is not None
    monkeypatch.setenv("GOVCAL_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    transport = httpx.ASGITransport(app=create_app(build_runtime()))

    async def status() -> int:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return (await c.get(asked.group(1))).status_code

    assert asyncio.run(status()) == 200
    assert "FORWARDED_ALLOW_IPS" in web["environment"]


def test_services_start_in_order_on_what_they_need():
    services = compose()["services"]
    for name, service in services.items():
        for needed, how in (service.get("depends_on") or {}).items():
            assert needed in services, (name, needed)
            assert how["condition"] in CONDITIONS, (name, how)
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], (name, needed)
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )  # the schema is migrated and the flows deployed before any flow runs
    assert "govcal db upgrade" in " ".join(services["migrate"]["command"])


def test_the_services_run_govcals_commands_on_the_deployed_pool():
    services = compose()["services"]
    pool = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    names = {d["work_pool"]["name"] for d in pool["deployments"] if "work_pool" in d}
    assert names == {"govcal"}
    assert "exec govcal web" in " ".join(services["web"]["command"])
    assert "prefect worker start --pool govcal" in " ".join(services["worker"]["command"])
    for name in ("web", "worker"):
        environment = services[name]["environment"]
        assert environment["PREFECT_API_URL"] == "http://prefect:4200/api"
        assert environment["GOVCAL_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_secrets_are_files_never_values_in_the_compose_file():
    spec = compose()
    declared = spec["secrets"]
    for name, secret in declared.items():
        assert set(secret) == {"file"}, name
        assert (DEPLOY / secret["file"]).parent.is_dir(), name
    for name, service in spec["services"].items():
        assert set(service.get("secrets", [])) <= set(declared), name
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert str(value).startswith("/run/secrets/"), (name, key)
        assert ":" not in _credentials(service), name  # no password in the URL
    ignored = (DEPLOY / "secrets" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignored  # the secret files themselves are never committed


def _credentials(service: dict) -> str:
    """The user[:password] part of the service's database URL, if any."""
    url = str((service.get("environment") or {}).get("GOVCAL_DATABASE_URL", ""))
    return url.split("://", 1)[-1].split("@", 1)[0] if "@" in url else ""


def test_the_image_installs_the_pinned_dependencies_and_pg_dump():
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "requirements.lock" in dockerfile and "postgresql-client" in dockerfile
    built = compose()["services"]["web"]["build"]
    assert (DEPLOY / built["context"] / built["dockerfile"]).resolve() == (
        DEPLOY / "Dockerfile"
    ).resolve()
    assert Path(DEPLOY / "postgres-init.sql").is_file()
