"""Settings for every stage: the only module that reads the environment and the YAML config file.

Everything else receives a ``Settings`` object (or one of its parts) as an argument.

Sources, later ones winning:
1. the defaults below;
2. a YAML file (``--config FILE`` or ``IMS_CONFIG``), whose keys mirror the models below;
3. environment variables prefixed ``IMS_``, nested with ``__``
   (``IMS_KAFKA__BOOTSTRAP_SERVERS=broker:9092``, ``IMS_ELASTICSEARCH__PASSWORD=...``).

Secrets (the Elasticsearch password) are never read from the YAML file: they come from the environment or,
for the local node started by ``ims-monitor infra up``, from the credentials file it generated on first start
(kept in the infra home directory, outside git, mode 0600).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.versions import ELASTICSEARCH_VERSION, KAFKA_VERSION
from schemas.topics import TopicNames

DEFAULT_CONFIG_ENV = "IMS_CONFIG"


def _default_infra_home() -> Path:
    # Elasticsearch refuses to run as root, so as root the node runs as a service user that must be able to
    # reach its files: /var/lib is reachable, /root is not.
    if os.geteuid() == 0:
        return Path("/var/lib/ims-monitor")
    return Path.home() / ".local" / "share" / "ims-monitor"


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ims-monitor"


class InfraSettings(BaseModel):
    """Where and how ``ims-monitor infra`` runs the local Kafka broker and Elasticsearch node."""

    home: Path = Field(default_factory=_default_infra_home, description="data, config, logs and PID files")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="downloaded jars and zips")
    kafka_version: str = KAFKA_VERSION
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    elasticsearch_version: str = ELASTICSEARCH_VERSION
    elasticsearch_http_port: int = 9200
    elasticsearch_transport_port: int = 9300
    elasticsearch_heap: str = "512m"
    elasticsearch_service_user: str = Field(
        default="ims-es", description="user the node runs as when infra is started as root"
    )
    java_home: Path | None = Field(default=None, description="JDK for both services; default: `java` on PATH")
    start_timeout_s: float = 180.0


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="", description="prepended to every topic name, e.g. 'staging.'")
    partitions: int = 1
    replication_factor: int = 1

    @property
    def topics(self) -> TopicNames:
        return TopicNames(prefix=self.topic_prefix)


class ElasticsearchSettings(BaseModel):
    url: str = "http://127.0.0.1:9200"
    username: str = "elastic"
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: Path | None = None
    index_prefix: str = Field(default="ims", description="indices are named '<prefix>-flagged-items' etc.")
    request_timeout_s: float = 30.0
    bulk_max_retries: int = 5

    @property
    def flagged_index(self) -> str:
        return f"{self.index_prefix}-flagged-items"


class WorkerSettings(BaseModel):
    app_id: str = Field(default="ims-monitor", description="Faust app id = Kafka consumer group")
    classifier: str = Field(default="keyword-baseline", description="which classifier the worker uses")
    classify_batch_size: int = 32
    classify_batch_within_s: float = 0.5
    index_batch_size: int = 200
    index_batch_within_s: float = 1.0
    max_text_chars: int = 50_000
    log_level: str = "info"


class Settings(BaseSettings):
    """All settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(env_prefix="IMS_", env_nested_delimiter="__", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)


def elasticsearch_credentials_file(infra: InfraSettings) -> Path:
    """Where ``infra up`` keeps the password it generated for the local node's ``elastic`` user."""
    return infra.home / "elasticsearch" / "credentials.json"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the YAML file, the environment and keyword overrides.

    ``overrides`` are nested dicts (``kafka={"topic_prefix": "t."}``); tests use them instead of the
    environment.
    """
    path = config_file or (Path(os.environ[DEFAULT_CONFIG_ENV]) if os.environ.get(DEFAULT_CONFIG_ENV) else None)
    file_values: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: the config file must be a mapping, got {type(loaded).__name__}")
        file_values = loaded
        es_file = file_values.get("elasticsearch") or {}
        if "password" in es_file or "api_key" in es_file:
            raise ValueError(f"{path}: secrets do not belong in the config file; use IMS_ELASTICSEARCH__PASSWORD")
    env_settings = Settings()
    merged = _deep_merge(file_values, env_settings.model_dump(exclude_unset=True))
    merged = _deep_merge(merged, overrides)
    return with_local_credentials(Settings.model_validate(merged))


def with_local_credentials(settings: Settings) -> Settings:
    """Fill in the local node's generated password when no secret was given (call again after ``infra up``)."""
    es = settings.elasticsearch
    if es.password is not None or es.api_key is not None:
        return settings
    creds = elasticsearch_credentials_file(settings.infra)
    if not creds.is_file():
        return settings
    data = json.loads(creds.read_text(encoding="utf-8"))
    es_with_password = es.model_copy(update={"password": SecretStr(data["password"]),
                                             "username": data.get("username", es.username)})
    return settings.model_copy(update={"elasticsearch": es_with_password})


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def settings_to_env(settings: Settings) -> dict[str, str]:
    """Environment variables that rebuild ``settings`` in a child process (secrets included, never on disk)."""
    env = {}
    for name in Settings.model_fields:
        part = getattr(settings, name)
        values = part.model_dump(mode="json")
        for key, value in part:
            if isinstance(value, SecretStr):
                values[key] = value.get_secret_value()
        env[f"IMS_{name.upper()}"] = json.dumps(values)
    return env
