"""The demo's dashboard: ``ims-monitor dashboard`` as a child process, and the login the demo prints works."""

from __future__ import annotations

import re
import subprocess
import sys
from contextlib import closing

import httpx
import pytest

from infra.processes import is_alive
from pipeline.dashboard.demo import DemoDashboard
from pipeline.settings import Settings, settings_to_env
from tests.dashboard.conftest import free_port, sign_in

pytestmark = pytest.mark.integration


def test_demo_starts_the_dashboard_and_prints_a_working_login(dash_settings: Settings) -> None:
    settings = dash_settings.model_copy(update={"dashboard": dash_settings.dashboard.model_copy(
        update={"port": free_port()})})
    messages: list[str] = []
    demo = DemoDashboard(settings, progress=messages.append)
    assert demo.start(), messages
    try:
        assert demo.process is not None
        pid = demo.process.pid
        printed = "\n".join(messages)
        url = re.search(r"dashboard: (http://\S+)", printed).group(1)
        username, password = re.search(r"sign in as (\S+) / (\S+)", printed).groups()
        with closing(httpx.Client(base_url=url, headers={"Origin": url})) as client:
            assert client.get("/api/me").status_code == 401
            sign_in(client, username=username, password=password)
            assert client.get("/api/me").json()["role"] == "admin"
            assert "<svg" in client.get("/").text
        # a second demo while this one runs finds the port taken, says so and goes on without it
        assert not DemoDashboard(settings, progress=messages.append).start()
        assert "already in use" in messages[-1]
    finally:
        demo.stop()
    assert not is_alive(pid)


def test_users_command_adds_lists_and_disables(dash_settings: Settings) -> None:
    env = settings_to_env(dash_settings)

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pipeline.cli", "users", *args], input=stdin, env=env,
                              capture_output=True, text=True, timeout=120)

    added = run("add", "cli.user", "--role", "reviewer", "--password-stdin", stdin="a decent passphrase 42\n")
    assert added.returncode == 0, added.stderr
    assert '"role": "reviewer"' in added.stdout and "password" not in added.stdout
    assert run("add", "cli.user", "--password-stdin", stdin="a decent passphrase 42\n").returncode != 0
    weak = run("add", "weak.user", "--password-stdin", stdin="short\n")
    assert weak.returncode != 0 and "12 characters" in weak.stderr
    listed = run("list", "--json")
    assert '"username": "cli.user"' in listed.stdout and "argon2" not in listed.stdout
    disabled = run("disable", "cli.user")
    assert disabled.returncode == 0 and '"disabled": true' in disabled.stdout
