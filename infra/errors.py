"""Errors raised while starting or stopping the local services.

    InfraError            anything that stops ``ims-monitor infra`` from doing what was asked
    └── ServiceStartTimeout  a service started but did not become healthy in time (see its log file)
"""

from __future__ import annotations

from pathlib import Path


class InfraError(RuntimeError):
    """The local infrastructure could not be fetched, started or stopped."""


class ServiceStartTimeout(InfraError):
    def __init__(self, service: str, timeout_s: float, log_file: Path) -> None:
        super().__init__(f"{service} did not become healthy within {timeout_s:.0f}s; see {log_file}")
        self.service = service
        self.log_file = log_file
