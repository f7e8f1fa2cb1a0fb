"""``ims-monitor collect``: config validation, --dry-run JSONL on stdout, and producing to the real Kafka."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer

from pipeline.cli import cli
from pipeline.collectors.commands import collect
from pipeline.collectors.config import build_sources, load_collectors_config
from pipeline.collectors.errors import CollectorConfigError
from pipeline.settings import Settings, load_settings, read_collectors_file
from tests.collectors.helpers import LocalServer
from tests.collectors.test_hackernews import FakeAlgolia
from tests.collectors.test_x import TOKEN, FakeX

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, hn_url: str, x_url: str) -> Path:
    (tmp_path / "employees.csv").write_text("employee_id,network,handle\nE42,twitter,Jane_Doe\n")
    path = tmp_path / "collectors.yaml"
    path.write_text(f"""
employees_csv: employees.csv
rules:
  - name: ims
    query: '("IMS" OR "Incident Management Solutions") AND NOT "IP Multimedia"'
defaults: {{backfill_hours: 720, timeout_s: 5, max_retries: 2, backoff_base_s: 0.05, backoff_max_s: 0.1}}
sources:
  - {{name: hn, type: hackernews, base_url: "{hn_url}", query: IMS, hits_per_page: 2}}
  - name: x
    type: x
    base_url: "{x_url}"
    query: IMS
    secrets: {{bearer_token: TEST_X_BEARER}}
  - {{name: disabled-hn, type: hackernews, enabled: false, base_url: "http://127.0.0.1:9", query: IMS}}
""")
    return path


def _servers() -> tuple[FakeAlgolia, FakeX]:
    hn, x = FakeAlgolia(), FakeX()
    for n in range(1, 4):
        hn.add_story(n, f"IMS story {n}")
    hn.add_story(4, "IMS core in the IP Multimedia Subsystem")
    x.add(5001, "IMS tweet", author="12")
    x.add(5002, "unrelated tweet")
    x.add(5004, "weekend hike photos", author="12")  # no rule matches, but a declared employee wrote it
    return hn, x


def test_dry_run_prints_normalised_jsonl_and_moves_no_cursor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_X_BEARER", TOKEN)
    monkeypatch.setenv("IMS_COLLECTORS__STATE_DIR", str(tmp_path / "state"))
    hn, x = _servers()
    with LocalServer(hn.app()) as hn_server, LocalServer(x.app()) as x_server:
        config = _config(tmp_path, hn_server.url, x_server.url)
        result = CliRunner().invoke(cli, ["collect", "--config", str(config), "--once", "--dry-run"])
        assert result.exit_code == 0, result.output
        config.write_text("keep_employee_posts: false\n" + config.read_text())
        again = CliRunner().invoke(cli, ["collect", "--config", str(config), "--source", "x", "--once", "--dry-run"])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(m["mention_id"] for m in lines) == ["hackernews:40000001", "hackernews:40000002",
                                                      "hackernews:40000003", "twitter:5001", "twitter:5004"]
    assert {m["mention_id"]: m["matched_rule"] for m in lines}["twitter:5004"] == "employee_account"
    assert all(m["matched_rule"] == "ims" for m in lines if m["mention_id"] != "twitter:5004")
    tweet = next(m for m in lines if m["mention_id"] == "twitter:5001")
    assert tweet["author"]["is_employee"] is True and tweet["author"]["employee_id"] == "E42"
    health = json.loads(result.stderr.strip().splitlines()[-1])["sources"]
    assert set(health) == {"hn", "x"} and health["hn"]["unmatched"] == 1 and health["x"]["unmatched"] == 1
    assert [json.loads(line)["mention_id"] for line in again.stdout.splitlines()] == ["twitter:5001"]
    assert not (tmp_path / "state").exists()


def test_configuration_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_X_BEARER", raising=False)
    config = _config(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9")
    result = CliRunner().invoke(cli, ["collect", "--config", str(config), "--once", "--dry-run"])
    assert result.exit_code == 2 and "missing secret(s): bearer_token (env TEST_X_BEARER)" in result.stderr
    bad = {"rules": [{"name": "r", "query": "IMS AND (x"}], "sources": []}
    with pytest.raises(CollectorConfigError, match="never closed at position 10"):
        load_collectors_config(bad)
    literal = {"sources": [{"name": "x", "type": "x", "query": "q", "secrets": {"bearer_token": "AAAA-real-token"}}]}
    with pytest.raises(CollectorConfigError, match="must name an environment variable"):
        load_collectors_config(literal)
    unknown = load_collectors_config({"sources": [{"name": "h", "type": "hackernews", "querry": "IMS"}]})
    with pytest.raises(CollectorConfigError, match="querry"):
        build_sources(unknown, secret_lookup=lambda name: None)


def test_the_example_config_is_valid() -> None:
    from pydantic import SecretStr

    path = REPO / "config" / "collectors.example.yaml"
    config = load_collectors_config(read_collectors_file(path), base_dir=path.parent)
    every = [s.name for s in config.sources]
    sources = build_sources(config, secret_lookup=lambda name: SecretStr(f"value-of-{name}"), only=every,
                            base_dir=path.parent)
    assert len(sources) == len(every) and len({type(s.source) for s in sources}) >= 14


@pytest.mark.integration
def test_collect_produces_to_kafka_keyed_by_mention_id(settings: Settings, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_X_BEARER", TOKEN)
    hn, x = _servers()
    state = tmp_path / "state"
    with LocalServer(hn.app()) as hn_server, LocalServer(x.app()) as x_server:
        config = _config(tmp_path, hn_server.url, x_server.url)
        args = ["--config", str(config), "--once", "--state-dir", str(state)]
        first = CliRunner().invoke(collect, args, obj=settings)
        assert first.exit_code == 0, first.output
        x.add(5005, "IMS later tweet")
        second = CliRunner().invoke(collect, args, obj=settings)  # a restart: only the new post
        assert second.exit_code == 0, second.output
    consumer = KafkaConsumer(settings.kafka.topics.raw, bootstrap_servers=settings.kafka.bootstrap_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        records = list(consumer)
    finally:
        consumer.close()
    keys = [r.key.decode() for r in records]
    assert sorted(keys) == ["hackernews:40000001", "hackernews:40000002", "hackernews:40000003",
                            "twitter:5001", "twitter:5004", "twitter:5005"]
    for record in records:
        assert json.loads(record.value)["mention_id"] == record.key.decode()
    health = json.loads((state / "health.json").read_text())["sources"]
    assert health["x"]["produced"] == 1 and health["x"]["status"] == "ok"
    assert load_settings(None).collectors.state_dir != state  # the option, not the default, was used
