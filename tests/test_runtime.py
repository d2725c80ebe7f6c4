"""One runtime builder (flows/runtime.py) for the CLI, the flows, the forms and serve:
the SMTP password comes from the same Prefect Secret block everywhere, and a block that
does not exist is an error, never an empty password."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from govcal.prefect_env import configure_prefect

configure_prefect()

from prefect.blocks.system import Secret  # noqa: E402

from govcal.flows.runtime import SecretUnavailable, build_runtime  # noqa: E402
from govcal.models.settings import get_settings  # noqa: E402

pytestmark = pytest.mark.xdist_group("prefect")
GOVCAL = [sys.executable, "-m", "govcal.cli"]


@pytest.fixture
def smtp_env(monkeypatch):
    values = {
        "GOVCAL_TRANSPORT": "smtp",
        "GOVCAL_SMTP_USERNAME": "govcal",
        "GOVCAL_SMTP_PASSWORD_BLOCK": "govcal-smtp",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GOVCAL_SMTP_PASSWORD", raising=False)
    get_settings.cache_clear()
    return values


def test_the_runtime_reads_the_password_from_the_named_secret_block(prefect_api, smtp_env):
    Secret(value="from-the-block").save("govcal-smtp", overwrite=True)
    runtime = build_runtime()
    transport = runtime.transport()
    assert transport.settings.password == "from-the-block"  # type: ignore[attr-defined]
    assert transport.settings.security == "starttls"  # type: ignore[attr-defined]
    assert runtime.sender.email == "govcal@example.org"
    assert {p.id for p in runtime.partnerships} >= {"wfscp"}
    assert str(runtime.timezone) == "Europe/London"  # the default partnership's zone
    late = build_runtime(clock=lambda: datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    assert late.today().isoformat() == "2026-07-01"  # 00:30 BST is already 1 July


def test_a_missing_secret_block_is_an_error_for_the_flows_and_the_cli(
    prefect_api, smtp_env, tmp_path, monkeypatch
):
    smtp_env["GOVCAL_SMTP_PASSWORD_BLOCK"] = "no-such-block"
    monkeypatch.setenv("GOVCAL_SMTP_PASSWORD_BLOCK", "no-such-block")
    get_settings.cache_clear()
    with pytest.raises(SecretUnavailable) as missing:
        build_runtime().transport()
    [line] = missing.value.lines
    assert line.startswith("GOVCAL_SMTP_PASSWORD_BLOCK='no-such-block': no Prefect Secret")

    env = {**os.environ, **smtp_env, "PREFECT_API_URL": prefect_api}
    result = subprocess.run(
        [*GOVCAL, "notify", "--as-of", "2026-10-05"],
        env=env,
        text=True,
        capture_output=True,
        check=False,
        timeout=180,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"Error: {line}"
    assert not (tmp_path / "data" / "govcal.db").exists()  # stopped before any work


def test_a_flow_run_whose_mail_did_not_all_go_ends_failed_after_doing_its_work(
    prefect_api, monkeypatch, smtp
):
    """Found: the flow showed a green Completed with mail silently stuck."""
    from govcal.cli.run import load_samples_if_empty
    from govcal.flows import jobs

    for key, value in {
        "GOVCAL_TRANSPORT": "smtp",
        "GOVCAL_SMTP_SECURITY": "none",
        "GOVCAL_SMTP_PORT": str(smtp.port),
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GOVCAL_SMTP_PASSWORD_BLOCK", raising=False)
    get_settings.cache_clear()
    load_samples_if_empty(history=False)
    smtp.recorder.refuse.add("safeguarding-nwas@example.org")
    state = jobs.daily_compliance(as_of=datetime(2026, 10, 5).date(), return_state=True)
    assert state.is_failed()
    assert state.message.startswith("1 notice(s) refused for good")
    result = state.result(raise_on_failure=False)
    assert result["sent"]["messages_sent"] > 20  # all the other work was done
    assert result["artifacts"]  # the dashboard was published


def test_two_first_runs_at_once_load_the_sample_once_and_neither_fails(tmp_path):
    """Both find an empty database; the second waits for the first's load, then finds
    the people there and loads nothing (it failed on a unique key before)."""
    code = (
        "from govcal.cli.run import load_samples_if_empty\n"
        "print('|'.join(load_samples_if_empty(history=False)))\n"
    )
    env = {**os.environ, "GOVCAL_DATA_DIR": str(tmp_path / "data")}
    started = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in started]
    assert [code for code, _out, _err in results] == [0, 0], [err for *_, err in results]
    said = [out for _code, out, _err in results]
    assert sum("wfscp: loaded the SAMPLE directory" in out for out in said) == 1
