from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from infra.local import infra_status
from infra.services import LocalElasticsearch
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def test_both_services_report_healthy(services: Settings) -> None:
    reports = {r["service"]: r for r in infra_status(services.infra)}
    assert reports["kafka"]["healthy"] and reports["kafka"]["version"] == services.infra.kafka_version
    assert reports["elasticsearch"]["healthy"] and reports["elasticsearch"]["status"] in ("green", "yellow")
    assert all(r["pid"] for r in reports.values())


def test_elasticsearch_requires_the_generated_password(services: Settings) -> None:
    url = f"http://127.0.0.1:{services.infra.elasticsearch_http_port}/"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=5)
    assert err.value.code == 401
    creds = LocalElasticsearch(services.infra).credentials_file
    assert oct(creds.stat().st_mode & 0o777) == "0o600"
    assert len(json.loads(creds.read_text())["password"]) >= 24


def test_elasticsearch_listens_on_loopback_only(es_client) -> None:
    info = es_client.nodes.info(metric="http")
    [node] = info["nodes"].values()
    assert all(addr.startswith("127.0.0.1") for addr in node["http"]["bound_address"])
