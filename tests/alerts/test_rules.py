"""Alert rules, routing, excerpts and e-mail rendering: pure code, no servers."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

import pytest

from pipeline.alerts.digest import period_floor, period_length
from pipeline.alerts.emails import AlertRenderer, build_message, header_safe, new_message_id
from pipeline.alerts.excerpt import make_excerpt, redact
from pipeline.alerts.rules import check_rules, decide_alert, route_recipients, summarise
from pipeline.alerts.surge import Surge, is_surge
from pipeline.errors import ConfigurationError
from pipeline.settings import AlertRoute, AlertSettings, load_settings
from tests.alerts.factories import classified

RULES = AlertSettings()
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> IMS boss "Dave" & co are <b>thieves</b>'


def test_high_risk_alerts_immediately_with_the_reason() -> None:
    decision = decide_alert(classified(labels=["confidential_info"], risk=85), RULES)
    assert decision.kind == "immediate"
    assert decision.why == ["risk 85 is at or above 70"]


def test_safeguarding_and_harassment_alert_immediately_whatever_the_risk() -> None:
    for label in ("safeguarding", "harassment"):
        decision = decide_alert(classified(labels=[label], risk=20), RULES)
        assert decision.kind == "immediate"
        assert f"label {label} alerts immediately" in decision.why


def test_lower_risk_goes_to_the_digest_and_unflagged_items_do_not_alert() -> None:
    assert decide_alert(classified(labels=["logo_misuse"], risk=30), RULES).kind == "digest"
    assert decide_alert(classified(labels=[], risk=0), RULES).kind == "none"
    assert decide_alert(classified(labels=["safeguarding"], risk=90, flagged=False), RULES).kind == "none"


def test_routing_by_label_with_default_recipients() -> None:
    assert route_recipients(labels=["safeguarding"], source="twitter", rules=RULES) == (
        "safeguarding-lead@ims.example", "hr@ims.example")
    assert route_recipients(labels=["logo_misuse"], source="twitter", rules=RULES) == ("communications@ims.example",)
    assert route_recipients(labels=["safeguarding", "logo_misuse"], source="reddit", rules=RULES) == (
        "safeguarding-lead@ims.example", "hr@ims.example", "communications@ims.example")
    rules = AlertSettings(routes=[AlertRoute(labels=["defamation"], recipients=["legal@ims.example"])],
                          default_recipients=["hr@ims.example"])
    assert route_recipients(labels=["disrepute"], source="twitter", rules=rules) == ("hr@ims.example",)


def test_routing_by_source() -> None:
    rules = AlertSettings(routes=[
        AlertRoute(sources=["linkedin"], recipients=["talent@ims.example"]),
        AlertRoute(labels=["logo_misuse"], sources=["instagram", "tumblr"], recipients=["brand@ims.example"]),
    ])
    assert route_recipients(labels=["disrepute"], source="linkedin", rules=rules) == ("talent@ims.example",)
    assert route_recipients(labels=["logo_misuse"], source="instagram", rules=rules) == ("brand@ims.example",)
    assert route_recipients(labels=["logo_misuse"], source="twitter", rules=rules) == ("hr@ims.example",)


def test_excerpt_is_short_centred_on_the_reason_and_redacted() -> None:
    text = ("Long day. " * 40 + "Jo from accounts lives at 12 Elm Road, LS1 4AB, phone 07700 900123, "
            "email jo.bloggs@gmail.com, NI AB 12 34 56 C, and she is being bullied by her manager. " + "Bye. " * 40)
    excerpt = make_excerpt(text, spans=["bullied"], max_chars=160)
    assert len(excerpt) <= 160
    assert excerpt.startswith("…") and excerpt.endswith("…")
    assert "bullied" in excerpt
    for secret in ("07700 900123", "jo.bloggs@gmail.com", "LS1 4AB", "AB 12 34 56 C"):
        assert secret not in excerpt
    assert redact("call 07700 900123 or +44 (0)113 496 0000") == "call [number] or [number]"
    assert redact("sort code 12-34-56, on 2026-11-20 at 10:15") == "sort code [number], on 2026-11-20 at 10:15"
    assert make_excerpt("short   post\n\nhere", max_chars=100) == "short post here"


def test_summary_leaves_out_the_author_and_links_to_the_dashboard() -> None:
    item = classified("IMS intranet pic of Sam's payslip", labels=["colleague_privacy"], risk=60,
                      explanations={"colleague_privacy": ["payslip"]})
    summary = summarise(item, RULES, why=["test"])
    as_text = repr(summary.to_dict())
    assert item.mention.author.handle not in as_text
    assert str(item.mention.author.display_name) not in as_text
    assert item.mention.url not in as_text
    assert summary.link == f"http://127.0.0.1:8080/items/{item.mention.mention_id.replace(':', '%3A')}"
    assert summary.reasons == {"colleague_privacy": ["payslip"]}


def test_immediate_email_escapes_hostile_text_in_html_and_has_correct_headers() -> None:
    item = classified(HOSTILE, labels=["defamation", "reputation_risk"], risk=88,
                      explanations={"defamation": ["<b>thieves</b>"]})
    summary = summarise(item, RULES, why=["risk 88 is at or above 70"])
    rendered = AlertRenderer(RULES).immediate(summary, recipient="hr@ims.example")
    assert rendered.subject == "[IMS alert] risk 88: reputation_risk, defamation (twitter)"
    assert "<script>" not in rendered.html and "<img" not in rendered.html and "<b>thieves" not in rendered.html
    assert "&lt;script&gt;" in rendered.html and "&lt;b&gt;thieves&lt;/b&gt;" in rendered.html
    assert "&#34;Dave&#34; &amp; co" in rendered.html
    assert HOSTILE in rendered.text  # plain text is shown as text by every client
    date = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)
    message_id = new_message_id(RULES.from_address)
    message = build_message(rendered, from_address=RULES.from_address, to="hr@ims.example", message_id=message_id,
                            date=date, alert_id="immediate:twitter:1", kind="immediate")
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["From"] == "IMS Monitor <ims-monitor@ims.example>"
    assert parsed["Message-ID"] == message_id and message_id.endswith("@ims.example>")
    assert parsedate_to_datetime(parsed["Date"]) == date
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_header_values_cannot_be_injected() -> None:
    assert header_safe("risk 5\r\nBcc: evil@example.com") == "risk 5 Bcc: evil@example.com"
    assert len(header_safe("x" * 500)) == 160


def test_surge_needs_the_factor_and_the_minimum_count() -> None:
    rules = AlertSettings(surge_factor=3.0, surge_min_count=10, surge_baseline_floor=1.0)
    assert is_surge(count=30, baseline_mean=2.0, rules=rules)
    assert not is_surge(count=30, baseline_mean=12.0, rules=rules)  # busy, but usual
    assert not is_surge(count=9, baseline_mean=0.0, rules=rules)  # too few to matter
    assert is_surge(count=10, baseline_mean=0.0, rules=rules)  # quiet history: the floor applies


def test_surge_email_says_how_far_above_the_baseline() -> None:
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    surge = Surge(metric="flagged", count=24, baseline_mean=2.0, window_start=now.replace(minute=0) , window_end=now,
                  top_labels=[("reputation_risk", 20)], top_sources=[("twitter", 24)],
                  top_items=[{"risk": 60, "labels": ["reputation_risk"], "source": "twitter",
                              "link": "http://127.0.0.1:8080/items/x", "mention_id": "x"}])
    rendered = AlertRenderer(RULES).surge(surge, recipient="hr@ims.example")
    assert rendered.subject == "[IMS surge] 24 flagged items in 15 min (usually 2.0)"
    assert "12.0 times the usual 2.0" in rendered.text
    assert "reputation_risk (20)" in rendered.text and "http://127.0.0.1:8080/items/x" in rendered.html


def test_periods_are_utc_hours_or_days() -> None:
    moment = datetime(2026, 11, 24, 10, 37, 12, tzinfo=UTC)
    assert period_floor(moment, period_length(AlertSettings(digest_period="hourly"))) == moment.replace(
        minute=0, second=0)
    assert period_floor(moment, period_length(AlertSettings(digest_period="daily"))) == moment.replace(
        hour=0, minute=0, second=0)


def test_settings_that_could_never_match_are_refused() -> None:
    check_rules(AlertSettings())
    bad = AlertSettings(immediate_labels=["safegaurding"], routes=[AlertRoute(sources=["myspace"], recipients=[])],
                        surge_metrics=["likes"])
    with pytest.raises(ConfigurationError) as err:
        check_rules(bad)
    for problem in ("unknown label 'safegaurding'", "unknown source 'myspace'", "unknown surge metric 'likes'",
                    "route 0 has no recipients"):
        assert problem in str(err.value)


def test_the_smtp_password_is_refused_in_the_config_file(tmp_path) -> None:
    config = tmp_path / "ims.yaml"
    config.write_text("alerts:\n  enabled: true\n  smtp_password: hunter2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="IMS_ALERTS__SMTP_PASSWORD"):
        load_settings(config)
    config.write_text("alerts:\n  enabled: true\n  smtp_port: 2525\n  routes:\n"
                      "    - {labels: [defamation], recipients: [legal@ims.example]}\n", encoding="utf-8")
    loaded = load_settings(config)
    assert loaded.alerts.smtp_port == 2525
    assert loaded.alerts.routes == [AlertRoute(labels=["defamation"], recipients=["legal@ims.example"])]
