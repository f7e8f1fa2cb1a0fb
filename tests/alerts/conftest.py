"""Alert test fixtures: a real SMTP server (``MailCatcher``, aiosmtpd) on 127.0.0.1 and per-test outboxes.

``alert_env`` gives each test its own index prefix (inside the session's, so the session clean-up deletes it),
a mail catcher on a free port, and a factory for ``AlertService`` instances pointed at both.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.alerts.mail_catcher import MailCatcher, free_port
from pipeline.alerts.service import AlertService
from pipeline.settings import AlertSettings, Settings

FAST_DELIVERY = {"retry_backoff_s": [5.0, 10.0, 20.0], "deliver_interval_s": 0.5, "evaluate_interval_s": 1.0,
                 "lease_s": 60.0}


@dataclass
class AlertEnv:
    settings: Settings
    folder: Path
    port: int
    catcher: MailCatcher | None = None
    services: list[AlertService] = field(default_factory=list)

    def with_rules(self, **rules: Any) -> Settings:
        alerts = self.settings.alerts.model_copy(update=rules)
        return self.settings.model_copy(update={"alerts": AlertSettings.model_validate(alerts.model_dump())})

    def service(self, **rules: Any) -> AlertService:
        svc = AlertService.from_settings(self.with_rules(**rules))
        self.services.append(svc)
        return svc

    def start_catcher(self, **options: Any) -> MailCatcher:
        self.catcher = MailCatcher(self.folder, port=self.port, **options).start()
        return self.catcher

    def stop_catcher(self) -> None:
        if self.catcher is not None:
            self.catcher.stop()
            self.catcher = None

    def received(self) -> list[EmailMessage]:
        return MailCatcher(self.folder, port=self.port).messages()


def assert_well_formed(message: EmailMessage, *, kind: str) -> None:
    """From, To, Date, a unique-looking Message-ID, text + HTML alternatives, the alert headers."""
    assert message["From"] == "IMS Monitor <ims-monitor@ims.example>"
    assert str(message["Message-ID"]).startswith("<") and str(message["Message-ID"]).endswith("@ims.example>")
    assert abs((parsedate_to_datetime(str(message["Date"])) - datetime.now(UTC)).total_seconds()) < 3 * 3600
    assert message["X-IMS-Alert-Kind"] == kind and str(message["X-IMS-Alert-Id"]).startswith(f"{kind}:")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


def by_alert_id(messages: list[EmailMessage]) -> dict[tuple[str, str], int]:
    """How many messages arrived for each (alert id, recipient)."""
    counts: dict[tuple[str, str], int] = {}
    for message in messages:
        key = (str(message["X-IMS-Alert-Id"]), str(message["To"]))
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.fixture
def alert_env(settings: Settings, tmp_path: Path) -> Iterator[AlertEnv]:
    run = uuid.uuid4().hex[:6]
    port = free_port()
    ours = settings.model_copy(update={
        "elasticsearch": settings.elasticsearch.model_copy(
            update={"index_prefix": f"{settings.elasticsearch.index_prefix}-al{run}"}),
        "alerts": AlertSettings(enabled=True, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_s=5.0,
                                **FAST_DELIVERY),
    })
    env = AlertEnv(settings=ours, folder=tmp_path / "mail", port=port)
    yield env
    env.stop_catcher()
    for svc in env.services:
        svc.close()


ServiceFactory = Callable[..., AlertService]
