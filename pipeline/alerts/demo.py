"""The demo's alert e-mails: a local mail catcher, the worker pointed at it, and a report of what HR got.

``ims-monitor demo`` starts a :class:`MailCatcher` on a free port of 127.0.0.1 (writing ``.eml`` files to
``alerts.mail_catcher_dir``, default ``<infra home>/mail``) and turns alerts on for its worker with that port,
so no demo e-mail ever leaves the machine. Once the sample has gone through it composes the digests without
waiting for the hour (``digest-now``), delivers what is due, and prints where the e-mails are, their
subjects, and the first immediate alert as HR would read it.

Example::

    mail = DemoMail(settings, progress=print)
    settings = mail.start()        # alerts enabled, SMTP -> the catcher
    ...                            # run the worker with these settings, replay the sample
    mail.report(flagged_ids)       # wait for the alerts, send the digests, print them
    mail.stop()
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.alerts.commands import mail_folder
from pipeline.alerts.mail_catcher import MailCatcher, read_eml
from pipeline.alerts.service import AlertService
from pipeline.settings import Settings

Progress = Callable[[str], None]
DEMO_DELIVER_INTERVAL_S = 1.0
DEMO_EVALUATE_INTERVAL_S = 5.0


class DemoMail:
    def __init__(self, settings: Settings, *, progress: Progress) -> None:
        self.settings = settings
        self.progress = progress
        self.folder: Path = mail_folder(settings)
        self.catcher: MailCatcher | None = None
        self.started_at = 0.0

    def start(self) -> Settings:
        """Start the catcher; return the settings the worker should run with."""
        self.started_at = time.time()
        self.catcher = MailCatcher(self.folder).start()
        alerts = self.settings.alerts.model_copy(update={
            "enabled": True, "smtp_host": self.catcher.host, "smtp_port": self.catcher.port,
            "smtp_starttls": False, "smtp_ssl": False, "smtp_username": None, "smtp_password": None,
            "deliver_interval_s": DEMO_DELIVER_INTERVAL_S, "evaluate_interval_s": DEMO_EVALUATE_INTERVAL_S,
        })
        self.settings = self.settings.model_copy(update={"alerts": alerts})
        self.progress(f"mail catcher on smtp://{self.catcher.host}:{self.catcher.port}; alert e-mails go to "
                      f"{self.folder}")
        return self.settings

    def report(self, flagged_ids: set[str], *, timeout_s: float = 60.0) -> list[Path]:
        """Wait until every flagged mention is alerted, send the digests now, print what arrived."""
        service = AlertService.from_settings(self.settings, worker_id="demo")
        try:
            deadline = time.monotonic() + timeout_s
            while flagged_ids and time.monotonic() < deadline:
                service.outbox.ensure_indices()
                service.outbox.refresh()
                if service.outbox.alerted_mention_ids(flagged_ids) >= flagged_ids:
                    break
                time.sleep(1.0)
            service.evaluate(flush_digest=True)
            while time.monotonic() < deadline:
                service.deliver_due()
                service.outbox.refresh()
                if not service.outbox.due_messages(now=_far_future()):
                    break
                time.sleep(1.0)
        finally:
            service.close()
        return self._print_received()

    def _print_received(self) -> list[Path]:
        files = [p for p in sorted(self.folder.glob("*.eml")) if p.stat().st_mtime >= self.started_at - 1]
        if not files:
            self.progress(f"no new alert e-mails in this run (earlier ones are in {self.folder})")
            return files
        messages = [(path, read_eml(path)) for path in files]
        kinds = Counter(str(m["X-IMS-Alert-Kind"]) for _, m in messages)
        self.progress(f"{len(files)} alert e-mails received by the mail catcher in {self.folder}: "
                      + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))
        for path, message in messages:
            self.progress(f"  {path.name}  To: {message['To']}  Subject: {message['Subject']}")
        for kind in ("immediate", "surge"):
            example = next((m for _, m in messages if m["X-IMS-Alert-Kind"] == kind), None)
            if example is not None:
                body = example.get_body(("plain",))
                text = body.get_content() if body is not None else ""
                self.progress(f"--- {'an' if kind == 'immediate' else 'a'} {kind} alert as its recipient reads it ---\n"
                              f"From: {example['From']}\nTo: {example['To']}\nSubject: {example['Subject']}\n"
                              f"Date: {example['Date']}\n\n{text.strip()}\n---")
        self.progress("open any .eml file in a mail client (or a text editor) to see the HTML version")
        return files

    def stop(self) -> None:
        if self.catcher is not None:
            self.catcher.stop()
            self.catcher = None


def _far_future() -> datetime:
    return datetime.now(UTC) + timedelta(days=3650)
