"""The demo's dashboard: a demo admin with a fresh random password, the dashboard as a child process.

``ims-monitor demo`` (without ``--once``) starts it once the flagged-item index exists, so the items show up
as the worker indexes them, and prints the URL and the login. The dashboard runs as ``ims-monitor dashboard``
with the demo's settings (passed through the environment) and is stopped by its PID when the demo ends.
If the port is taken, the demo goes on without it and says so.

Example::

    dashboard = DemoDashboard(settings, progress=print)
    dashboard.start()      # prints "dashboard: http://127.0.0.1:8080  sign in as demo-admin / ..."
    ...
    dashboard.stop()
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from infra.processes import is_alive, stop_pid
from pipeline.dashboard.commands import dashboard_url, ensure_demo_admin
from pipeline.settings import Settings, settings_to_env

Progress = Callable[[str], None]
START_TIMEOUT_S = 60.0


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class DemoDashboard:
    def __init__(self, settings: Settings, *, progress: Progress) -> None:
        self.settings = settings
        self.progress = progress
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        """Start the dashboard and print how to sign in; False (with a message) if it could not start."""
        config = self.settings.dashboard
        url = dashboard_url(self.settings)
        if _port_in_use(config.host, config.port):
            self.progress(f"dashboard: port {config.port} is already in use, so the demo runs without it "
                          f"(set IMS_DASHBOARD__PORT to another port)")
            return False
        username, password = ensure_demo_admin(self.settings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMS_")}
        env.update(settings_to_env(self.settings))
        log_file = self.settings.infra.home / "dashboard" / "dashboard.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "dashboard"], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.progress(f"dashboard: exited with code {self.process.returncode}; see {log_file}")
                self.process = None
                return False
            try:
                with urllib.request.urlopen(f"http://{config.host}:{config.port}/healthz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        else:
            self.progress(f"dashboard: not answering after {START_TIMEOUT_S:.0f}s; see {log_file}")
            return True
        self.progress(f"dashboard: {url}  (pid {self.process.pid}, log {log_file})")
        self.progress(f"dashboard: sign in as {username} / {password}  "
                      f"(more users: ims-monitor users add NAME --role reviewer)")
        return True

    def stop(self) -> None:
        if self.process is None:
            return
        if is_alive(self.process.pid):
            stop_pid(self.process.pid, timeout_s=15)
        self.process.wait(timeout=10)
        self.process = None
