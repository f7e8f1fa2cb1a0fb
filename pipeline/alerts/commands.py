"""``ims-monitor alerts ...``: run the mail catcher, deliver alerts outside the worker, inspect the outbox.

    ims-monitor alerts mailcatcher [--port 1025] [--dir DIR]    local SMTP server keeping .eml files
    ims-monitor alerts deliver [--once]                          send due e-mails, compose digests, detect surges
    ims-monitor alerts digest-now                                compose the digests now (don't wait for the hour)
    ims-monitor alerts outbox status                             e-mails per kind and state (JSON)
    ims-monitor alerts outbox list [--status failed] [--kind K]  one JSON line per e-mail (no bodies)

Settings: the ``alerts`` section (``IMS_ALERTS__SMTP_HOST``, ``IMS_ALERTS__SMTP_PORT``, ...); the SMTP password
only from ``IMS_ALERTS__SMTP_PASSWORD``.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import click

from pipeline.settings import Settings

LIST_FIELDS = ("outbox_id", "kind", "recipient", "status", "subject", "created_at", "attempts", "next_attempt_at",
               "sent_at", "failed_at", "smtp_code", "last_error", "message_id")


def mail_folder(settings: Settings) -> Path:
    """Where the demo's mail catcher keeps messages: ``alerts.mail_catcher_dir`` or ``<infra home>/mail``."""
    return settings.alerts.mail_catcher_dir or settings.infra.home / "mail"


@click.group("alerts")
def alerts() -> None:
    """E-mail alerts on flagged mentions: immediate, digest and surge alerts, delivered from a durable outbox."""


@alerts.command("mailcatcher")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1025, show_default=True)
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the .eml files (default: alerts.mail_catcher_dir or <infra home>/mail).")
@click.option("--reject", "reject", multiple=True, help="Answer 550 to this recipient (repeatable).")
@click.pass_obj
def mailcatcher_cmd(settings: Settings, host: str, port: int, folder: Path | None, reject: tuple[str, ...]) -> None:
    """A local SMTP server that writes every message it receives to a folder, until Ctrl-C."""
    from pipeline.alerts.mail_catcher import MailCatcher

    folder = folder or mail_folder(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with MailCatcher(folder, host=host, port=port, reject_recipients=reject):
        click.echo(f"mail catcher on smtp://{host}:{port}, writing to {folder} (Ctrl-C to stop)", err=True)
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass


@alerts.command("deliver")
@click.option("--once", is_flag=True, help="One pass (digests, surges, delivery), then exit.")
@click.pass_obj
def deliver_cmd(settings: Settings, once: bool) -> None:
    """Send due alert e-mails (and compose digests, detect surges) outside the worker, until stopped.

    Safe next to workers doing the same: each e-mail is claimed by exactly one deliverer.
    """
    from pipeline.alerts.service import AlertService

    service = AlertService.from_settings(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    next_evaluate = 0.0
    try:
        while True:
            if time.monotonic() >= next_evaluate:
                evaluated = service.evaluate()
                next_evaluate = time.monotonic() + settings.alerts.evaluate_interval_s
                if evaluated.digests or evaluated.surges:
                    click.echo(json.dumps({"digests": evaluated.digests, "surges": evaluated.surges}), err=True)
            report = service.deliver_due()
            if report.sent or report.failed or report.deferred or report.overflow:
                click.echo(json.dumps({"sent": len(report.sent), "deferred": len(report.deferred),
                                       "failed": len(report.failed), "overflow": len(report.overflow)}), err=True)
            if once or stop.wait(settings.alerts.deliver_interval_s):
                break
    except KeyboardInterrupt:
        pass
    finally:
        service.close()


@alerts.command("digest-now")
@click.pass_obj
def digest_now_cmd(settings: Settings) -> None:
    """Compose every recipient's digest from what is queued now, and send it."""
    from pipeline.alerts.service import AlertService

    service = AlertService.from_settings(settings)
    try:
        evaluated = service.evaluate(flush_digest=True)
        report = service.deliver_due()
        click.echo(json.dumps({"digests": evaluated.digests, "sent": report.sent, "deferred": report.deferred,
                               "failed": report.failed}))
    finally:
        service.close()


@alerts.group("outbox")
def outbox() -> None:
    """Inspect the alert outbox (what was sent, what waits, what failed and why)."""


@outbox.command("status")
@click.pass_obj
def outbox_status_cmd(settings: Settings) -> None:
    """E-mails per kind and state, as JSON: {"immediate": {"sent": 8, "failed": 1}, ...}."""
    from pipeline.alerts.outbox import AlertOutbox
    from pipeline.search.client import create_client

    client = create_client(settings.elasticsearch)
    try:
        box = AlertOutbox(client, index_prefix=settings.elasticsearch.index_prefix)
        box.ensure_indices()
        box.refresh()
        click.echo(json.dumps(box.counts()))
    finally:
        client.close()


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "failed", "overflow"]), default=None)
@click.option("--kind", type=click.Choice(["immediate", "digest", "surge"]), default=None)
@click.option("--limit", default=50, show_default=True)
@click.pass_obj
def outbox_list_cmd(settings: Settings, status: str | None, kind: str | None, limit: int) -> None:
    """One JSON line per e-mail, newest first (no bodies): recipient, state, attempts, last error."""
    from pipeline.alerts.outbox import AlertOutbox
    from pipeline.search.client import create_client

    client = create_client(settings.elasticsearch)
    try:
        box = AlertOutbox(client, index_prefix=settings.elasticsearch.index_prefix)
        box.ensure_indices()
        box.refresh()
        for doc in box.messages(status=status, kind=kind, limit=limit):
            click.echo(json.dumps({key: doc.get(key) for key in LIST_FIELDS}))
    finally:
        client.close()
