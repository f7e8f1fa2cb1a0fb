"""Alert e-mails: subjects and bodies from Jinja templates (HTML auto-escaped), and the MIME message.

Every alert is ``multipart/alternative`` (plain text first, then HTML) with ``From``, ``To``, ``Date``,
``Message-ID`` (from :func:`email.utils.make_msgid`, fixed when the alert is stored so a retry sends the same
id), ``Auto-Submitted: auto-generated`` (RFC 3834, no auto-replies) and ``X-IMS-Alert-Id``.

Post text is hostile input: the HTML templates auto-escape it, subjects only ever contain labels from the
fixed vocabulary, the risk, counts and the source name, and header values are stripped of control characters.

Example::

    renderer = AlertRenderer(settings.alerts)
    rendered = renderer.immediate(summary, recipient="hr@ims.example")
    message = build_message(rendered, from_address=settings.alerts.from_address, to="hr@ims.example",
                            message_id=new_message_id(settings.alerts.from_address), date=now,
                            alert_id="immediate:twitter:1", kind="immediate")
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from pipeline.alerts.rules import ItemSummary
from pipeline.settings import AlertSettings

if TYPE_CHECKING:
    from pipeline.alerts.surge import Surge

MAX_SUBJECT_CHARS = 160
ALERT_KINDS = ("immediate", "digest", "surge")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def header_safe(value: str, *, max_chars: int = MAX_SUBJECT_CHARS) -> str:
    """One line, no control characters, at most ``max_chars``."""
    clean = " ".join(_CONTROL.sub(" ", value).split())
    return clean if len(clean) <= max_chars else clean[:max_chars - 1] + "…"


def when(value: str) -> str:
    """``2026-11-20T10:15:00Z`` -> ``20 Nov 2026 10:15 UTC`` (unchanged if it is not a timestamp)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return str(value)
    return f"{moment.astimezone(UTC):%d %b %Y %H:%M} UTC"


def create_environment() -> Environment:
    """Templates from ``pipeline/alerts/templates``; ``*.html.j2`` auto-escaped, ``*.txt.j2`` not."""
    env = Environment(
        loader=PackageLoader("pipeline.alerts", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True, default=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters["when"] = when
    return env


def format_period(start: datetime, end: datetime) -> str:
    """``Tue 24 Nov 2026 10:00-11:00 UTC``, or both dates when the period spans midnight."""
    if start.date() == end.date():
        if f"{start:%H:%M}" == f"{end:%H:%M}":
            return f"{start:%a %d %b %Y %H:%M} UTC"
        return f"{start:%a %d %b %Y %H:%M}-{end:%H:%M} UTC"
    return f"{start:%a %d %b %Y %H:%M} - {end:%a %d %b %Y %H:%M} UTC"


class AlertRenderer:
    """Renders the three kinds of alert e-mail for one recipient."""

    def __init__(self, rules: AlertSettings, *, environment: Environment | None = None) -> None:
        self.rules = rules
        self.env = environment or create_environment()
        for kind in ALERT_KINDS:  # compile now: a missing or broken template fails at start, not on an alert
            for part in ("txt", "html"):
                self.env.get_template(f"{kind}.{part}.j2")

    def _render(self, name: str, subject: str, **context: Any) -> RenderedEmail:
        subject = header_safe(subject)
        context = {"subject": subject, "dashboard_url": self.rules.dashboard_url, **context}
        return RenderedEmail(
            subject=subject,
            text=self.env.get_template(f"{name}.txt.j2").render(**context),
            html=self.env.get_template(f"{name}.html.j2").render(**context),
        )

    def immediate(self, item: ItemSummary, *, recipient: str) -> RenderedEmail:
        subject = f"[IMS alert] risk {item.risk}: {', '.join(item.labels)} ({item.source})"
        return self._render("immediate", subject, item=item, recipient=recipient)

    def digest(self, *, items: Sequence[ItemSummary], overflow: Sequence[ItemSummary], period_start: datetime,
               period_end: datetime, recipient: str) -> RenderedEmail:
        total = len(items) + len(overflow)
        room = max(0, self.rules.digest_max_items - len(overflow))
        listed = sorted(items, key=lambda i: (-i.risk, i.posted_at))[:room]
        period = format_period(period_start, period_end)
        subject = f"[IMS digest] {total} flagged item{'' if total == 1 else 's'}, {period}"
        if overflow:
            subject += f" ({len(overflow)} held back by the alert limit)"
        return self._render(
            "digest", subject, items=listed, overflow=sorted(overflow, key=lambda i: -i.risk),
            omitted=len(items) - len(listed), total=total, period=period,
            flood_limit=self.rules.flood_limit_per_hour, recipient=recipient,
        )

    def surge(self, surge: Surge, *, recipient: str) -> RenderedEmail:
        metric_label = "flagged items" if surge.metric == "flagged" else "mentions of IMS"
        ratio = surge.count / surge.baseline_mean if surge.baseline_mean > 0 else float("inf")
        ratio_text = f"{ratio:.1f} times" if ratio != float("inf") else "far above"
        subject = (f"[IMS surge] {surge.count} {metric_label} in {self.rules.surge_window_minutes} min "
                   f"(usually {surge.baseline_mean:.1f})")
        return self._render(
            "surge", subject, metric_label=metric_label, count=surge.count, baseline_mean=surge.baseline_mean,
            ratio_text=ratio_text, window_minutes=self.rules.surge_window_minutes,
            baseline_hours=self.rules.surge_baseline_hours, factor=self.rules.surge_factor,
            min_count=self.rules.surge_min_count, window_start=f"{surge.window_start:%Y-%m-%d %H:%M} UTC",
            window_end=f"{surge.window_end:%Y-%m-%d %H:%M} UTC", top_labels=surge.top_labels,
            top_sources=surge.top_sources, top_items=surge.top_items, recipient=recipient,
        )


def sender_domain(from_address: str) -> str:
    address = parseaddr(from_address)[1]
    return address.rpartition("@")[2] or "localhost"


def new_message_id(from_address: str) -> str:
    """A fresh ``<...@domain>`` Message-ID in the sender's domain."""
    return make_msgid(idstring="ims-alert", domain=sender_domain(from_address))


def build_message(rendered: RenderedEmail, *, from_address: str, to: str, message_id: str, date: datetime,
                  alert_id: str, kind: str) -> EmailMessage:
    """The MIME message: multipart/alternative, text then HTML, CRLF line ends (the SMTP policy)."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = from_address
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-IMS-Alert-Id"] = header_safe(alert_id, max_chars=500)
    message["X-IMS-Alert-Kind"] = kind
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message
