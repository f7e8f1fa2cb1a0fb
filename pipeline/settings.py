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
    classifier: str = Field(default="onnx-model", description="which classifier the worker (and `ims-monitor "
                            "classify`) uses: onnx-model (the trained policy model, built by `make model`), or a "
                            "named baseline kept for comparison: keyword-baseline, sentiment-baseline")
    classify_batch_size: int = 32
    classify_batch_within_s: float = 0.5
    index_batch_size: int = 200
    index_batch_within_s: float = 1.0
    max_text_chars: int = 50_000
    log_level: str = "info"
    ready_file: Path | None = Field(
        default=None, description="written (generation number) each time the worker finishes a rebalance; "
        "lets a supervisor wait until the worker consumes")


class ClassifierSettings(BaseModel):
    """The policy model (``ims-monitor train`` builds it; the ``onnx-model`` classifier serves it)."""

    model_dir: Path | None = Field(default=None, description="a built artifact folder; default: the cached "
                                   "build for the current corpus and code, under models_dir")
    models_dir: Path = Field(default_factory=lambda: _default_cache_dir() / "models",
                             description="where `ims-monitor train` caches built models (outside the repo)")
    precision: str = Field(default="int8", description="'int8' (served) or 'fp32'")
    batch_size: int = Field(default=1, description="windows per ONNX forward pass; 1 keeps int8 results "
                            "independent of the other texts in a batch")
    intra_op_threads: int | None = Field(default=None, description="ONNX Runtime threads per forward pass; "
                                         "default: 1 when passes run concurrently, else all cores")
    concurrent_runs: int | None = Field(default=None, description="forward passes in flight at once (one "
                                        "window each); default: one per CPU core")


class DashboardSettings(BaseModel):
    """The HR review dashboard (``ims-monitor dashboard``).

    The session secret signs cookies; set it with ``IMS_DASHBOARD__SESSION_SECRET`` (never in the YAML file).
    Without it, a random one is generated on first start and kept in ``<infra home>/dashboard/session_secret``
    (mode 0600), so sessions survive restarts.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str | None = Field(default=None, description="public URL, e.g. https://hr.example; default http://host:port")
    session_secret: SecretStr | None = None
    cookie_secure: bool | None = Field(default=None, description="Secure cookies; default: on when base_url is https or TLS is on")
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    session_ttl_s: int = Field(default=8 * 3600, description="absolute session lifetime")
    session_idle_s: int = Field(default=3600, description="a session unused for this long ends")
    login_max_failures: int = Field(default=5, description="failed sign-ins per user+address before a lock-out")
    login_max_failures_per_ip: int = Field(default=30, description="failed sign-ins per address before a lock-out")
    login_window_s: int = Field(default=900, description="window and lock-out length for the two limits above")
    page_size: int = 25
    max_page_size: int = 100
    max_results: int = Field(default=10_000, description="deepest result reachable by paging (from + size)")
    export_max_rows: int = 10_000



class AlertRoute(BaseModel):
    """Who receives items with these labels from these sources (empty list = any)."""

    labels: list[str] = Field(default_factory=list, description="any of these labels; empty = any label")
    sources: list[str] = Field(default_factory=list, description="any of these sources; empty = any source")
    recipients: list[str]


def _default_alert_routes() -> list[AlertRoute]:
    return [
        AlertRoute(labels=["safeguarding"], recipients=["safeguarding-lead@ims.example", "hr@ims.example"]),
        AlertRoute(labels=["harassment", "colleague_privacy", "confidential_info", "disrepute", "defamation"],
                   recipients=["hr@ims.example"]),
        AlertRoute(labels=["logo_misuse", "reputation_risk"], recipients=["communications@ims.example"]),
    ]


class AlertSettings(BaseModel):
    """E-mail alerts on flagged mentions (``pipeline/alerts``): rules, routing, flood control, surges, SMTP.

    Off unless ``enabled`` (``ims-monitor demo`` turns it on with its own local mail catcher). The SMTP password
    comes from ``IMS_ALERTS__SMTP_PASSWORD`` only. In the YAML file::

        alerts:
          enabled: true
          immediate_min_risk: 70
          immediate_labels: [safeguarding, harassment]
          digest_period: hourly            # or daily
          routes:
            - {labels: [safeguarding], recipients: [safeguarding-lead@ims.example, hr@ims.example]}
            - {labels: [logo_misuse], sources: [instagram, tumblr], recipients: [communications@ims.example]}
          default_recipients: [hr@ims.example]
          flood_limit_per_hour: 10
          surge_window_minutes: 15
          surge_factor: 3.0
          surge_min_count: 10
          smtp_host: smtp.ims.example
          smtp_port: 587
          smtp_starttls: true
          smtp_username: alerts
    """

    enabled: bool = Field(default=False, description="register the alert agent and timers in the worker")
    # Which flagged items alert immediately; every other flagged item goes into the digest.
    immediate_min_risk: int = Field(default=70, description="risk (0-100) at or above which an alert is immediate")
    immediate_labels: list[str] = Field(default_factory=lambda: ["safeguarding", "harassment"],
                                        description="labels that always alert immediately")
    digest_period: str = Field(default="hourly", pattern="^(hourly|daily)$", description="hourly | daily (UTC)")
    digest_max_items: int = Field(default=50, description="items listed in one digest; the rest are counted")
    # Routing: every matching route adds its recipients; no match -> default_recipients.
    routes: list[AlertRoute] = Field(default_factory=_default_alert_routes)
    default_recipients: list[str] = Field(default_factory=lambda: ["hr@ims.example"])
    flood_limit_per_hour: int = Field(default=10, description="immediate alerts per recipient per clock hour; "
                                                             "the overflow goes into the next digest")
    # Surges: count in the last window vs the mean per window over the baseline before it.
    surge_metrics: list[str] = Field(default_factory=lambda: ["mentions", "flagged"],
                                     description="'mentions' (about IMS) and/or 'flagged'")
    surge_window_minutes: int = 15
    surge_baseline_hours: int = 24
    surge_factor: float = Field(default=3.0, description="window count must reach factor x baseline mean")
    surge_min_count: int = Field(default=10, description="and at least this many in the window")
    surge_baseline_floor: float = Field(default=1.0, description="baseline mean used when history is quieter")
    surge_cooldown_minutes: int = Field(default=60, description="one surge alert per metric per cooldown")
    surge_recipients: list[str] = Field(default_factory=lambda: ["communications@ims.example", "hr@ims.example"])
    # Content.
    from_address: str = "IMS Monitor <ims-monitor@ims.example>"
    dashboard_url: str = Field(default="http://127.0.0.1:8080", description="links in e-mails point here")
    item_path: str = Field(default="/items/{mention_id}", description="path of one item in the dashboard")
    excerpt_chars: int = Field(default=240, description="longest excerpt of a post in an e-mail")
    # Delivery.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_ssl: bool = Field(default=False, description="implicit TLS (port 465) instead of STARTTLS")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_certs: Path | None = Field(default=None, description="CA bundle to trust (a private mail relay)")
    smtp_timeout_s: float = 30.0
    deliver_interval_s: float = Field(default=5.0, description="how often the worker sends due messages")
    evaluate_interval_s: float = Field(default=30.0, description="how often it checks digests and surges")
    retry_backoff_s: list[float] = Field(default_factory=lambda: [10.0, 30.0, 60.0, 120.0, 300.0],
                                         description="waits after the 1st, 2nd ... failed attempt; last repeats")
    give_up_after_hours: float = Field(default=72.0, description="a message still undelivered is marked failed")
    lease_s: float = Field(default=300.0, description="a claimed message is retried if not settled by then")
    mail_catcher_dir: Path | None = Field(default=None, description="demo mail catcher folder; default "
                                                                    "<infra home>/mail")

class ImageSettings(BaseModel):
    """Logo and copied-image detection (``pipeline/images``): the asset registry, the media fetcher, matching.

    Private networks are unreachable for the fetcher unless ``allow_private_networks``; ``private_allowlist``
    lets exactly the listed ``host:port`` pairs through (e.g. a local test server) and nothing else.
    """

    assets_dir: Path = Field(default_factory=lambda: _default_infra_home() / "assets",
                             description="registered IMS logos, photos and artwork with their features")
    allow_private_networks: bool = Field(default=False, description="let the fetcher reach private, loopback "
                                         "and link-local addresses (never cloud metadata)")
    private_allowlist: list[str] = Field(default_factory=list, description="'ip:port' pairs allowed even "
                                        "though private (tests: their own 127.0.0.1 server)")
    max_bytes: int = Field(default=15 * 1024 * 1024, description="largest media download")
    max_pixels: int = Field(default=40_000_000, description="largest decoded image (width x height)")
    max_redirects: int = 5
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = Field(default=30.0, description="whole download, redirects included")
    user_agent: str = "ims-monitor-media/0.1"
    min_inliers: int = Field(default=9, description="geometrically consistent keypoints for a match")
    pdq_max_distance: int = Field(default=40, description="PDQ Hamming distance (of 256) for a near-duplicate")
    min_coverage: float = Field(default=0.1, description="share of the asset the matched keypoints must span")
    thumbnail_px: int = Field(default=256, description="longest side of the evidence thumbnail")


class CollectorSettings(BaseModel):
    """Collectors (``ims-monitor collect``): where cursors and health are kept.

    The sources, rules and employee registry are in the collectors YAML (``collect --config FILE``, read by
    :func:`read_collectors_file`); their secrets are named there by environment variable and read here.
    """

    state_dir: Path = Field(default_factory=lambda: _default_infra_home() / "collectors",
                            description="checkpoints.sqlite3 (cursors) and health.json")


class Settings(BaseSettings):
    """All settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(env_prefix="IMS_", env_nested_delimiter="__", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    collectors: CollectorSettings = Field(default_factory=CollectorSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    images: ImageSettings = Field(default_factory=ImageSettings)


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
        if "smtp_password" in (file_values.get("alerts") or {}):
            raise ValueError(f"{path}: secrets do not belong in the config file; use IMS_ALERTS__SMTP_PASSWORD")
        if "session_secret" in (file_values.get("dashboard") or {}):
            raise ValueError(f"{path}: secrets do not belong in the config file; use IMS_DASHBOARD__SESSION_SECRET")
    env_settings = Settings()
    merged = _deep_merge(file_values, env_settings.model_dump(exclude_unset=True))
    merged = _deep_merge(merged, overrides)
    return with_local_credentials(Settings.model_validate(merged))


def read_collectors_file(path: Path) -> dict[str, Any]:
    """The collectors YAML (sources, rules, employee registry) as a mapping; validated by
    ``pipeline.collectors.config.CollectorsConfig``. Secrets are never in it: entries name environment
    variables (``secrets: {bearer_token: X_BEARER_TOKEN}``), read with :func:`secret_from_env`."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: the collectors file must be a mapping, got {type(loaded).__name__}")
    return loaded


def secret_from_env(name: str) -> SecretStr | None:
    """A secret named by a config file, from the environment (None when unset or empty)."""
    value = os.environ.get(name)
    return SecretStr(value) if value else None


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
