from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import Settings, load_settings, settings_to_env


def test_yaml_then_env_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ims.yaml"
    config.write_text("kafka:\n  bootstrap_servers: broker:9092\n  partitions: 3\nworker:\n  app_id: from-yaml\n")
    monkeypatch.setenv("IMS_KAFKA__PARTITIONS", "6")
    settings = load_settings(config, worker={"app_id": "from-override"})
    assert settings.kafka.bootstrap_servers == "broker:9092"
    assert settings.kafka.partitions == 6
    assert settings.worker.app_id == "from-override"
    assert settings.kafka.topics.raw == "mentions.raw"


def test_secrets_in_the_config_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "ims.yaml"
    config.write_text("elasticsearch:\n  password: hunter2\n")
    with pytest.raises(ValueError, match="secrets do not belong in the config file"):
        load_settings(config)


def test_settings_survive_the_trip_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(None, kafka={"topic_prefix": "t1."}, elasticsearch={"password": "s3cret"})
    for key, value in settings_to_env(settings).items():
        monkeypatch.setenv(key, value)
    rebuilt = Settings()
    assert rebuilt.kafka.topic_prefix == "t1."
    assert rebuilt.elasticsearch.password is not None
    assert rebuilt.elasticsearch.password.get_secret_value() == "s3cret"
