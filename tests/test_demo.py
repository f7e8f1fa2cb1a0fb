"""``ims-monitor demo --once`` as a user runs it, twice: the summary, and no duplicates on the second run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from elasticsearch import Elasticsearch

from pipeline.settings import Settings, settings_to_env
from tests.conftest import derive_settings

pytestmark = pytest.mark.integration


def run_demo_once(settings: Settings) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMS_")} | settings_to_env(settings)
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "demo", "--once", "--timeout", "300"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_demo_once_indexes_every_flagged_mention_and_a_rerun_adds_nothing(
    settings: Settings, es_client: Elasticsearch
) -> None:
    ours = derive_settings(settings, "demo")
    first = run_demo_once(ours)
    assert set(first) == {"mentions", "flagged", "indexed", "dead_letter"}
    assert first["mentions"] == 230
    assert first["indexed"] == first["flagged"] > 0
    assert first["dead_letter"] == 0
    index = ours.elasticsearch.flagged_index
    es_client.indices.refresh(index=index)
    count = es_client.count(index=index)["count"]
    assert count == first["flagged"]

    second = run_demo_once(ours)
    assert second == first
    es_client.indices.refresh(index=index)
    assert es_client.count(index=index)["count"] == count
