"""The collectors YAML: one entry per source, the matching rules and the employee registry.

Example (the full one is ``config/collectors.example.yaml``)::

    employees_csv: employees.csv          # optional; relative paths are relative to this file
    rules:
      - name: ims
        query: '("IMS" OR "Incident Management Solutions" OR @IMS_UK) AND NOT ("IP Multimedia" OR Indianapolis)'
    defaults: {poll_interval_s: 300, timeout_s: 30, max_retries: 5}
    sources:
      - name: x-recent
        type: x
        base_url: https://api.x.com          # every source's base URL can be overridden
        secrets: {bearer_token: X_BEARER_TOKEN}   # environment variable NAMES, never values
        query: '"Incident Management Solutions" OR @IMS_UK -is:retweet'

``load_collectors_config(mapping, base_dir=...)`` validates it (pydantic); ``build_sources`` turns the
entries into ready sources, reading their secrets through the function it is given (the settings module's
``secret_from_env``), so nothing here touches the environment.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from pipeline.collectors.base import Source
from pipeline.collectors.errors import CollectorConfigError, QuerySyntaxError
from pipeline.collectors.matching import MatchRule, MentionMatcher
from pipeline.collectors.runner import RunPolicy, ScheduledSource
from schemas.records import SOURCES

SOURCE_TYPES: dict[str, str] = {
    "rss": "pipeline.collectors.rss:RssCollector",
    "reddit": "pipeline.collectors.reddit:RedditCollector",
    "mastodon": "pipeline.collectors.mastodon:MastodonCollector",
    "bluesky": "pipeline.collectors.bluesky:BlueskySearchCollector",
    "bluesky_jetstream": "pipeline.collectors.bluesky:BlueskyJetstreamCollector",
    "x": "pipeline.collectors.x:XRecentSearchCollector",
    "facebook": "pipeline.collectors.facebook_graph:FacebookPageCollector",
    "instagram": "pipeline.collectors.facebook_graph:InstagramHashtagCollector",
    "tumblr": "pipeline.collectors.tumblr:TumblrTaggedCollector",
    "youtube": "pipeline.collectors.youtube:YouTubeCommentsCollector",
    "discourse": "pipeline.collectors.discourse:DiscourseSearchCollector",
    "disqus": "pipeline.collectors.disqus:DisqusCommentsCollector",
    "hackernews": "pipeline.collectors.hackernews:HackerNewsCollector",
    "imap": "pipeline.collectors.imap:ImapMailboxCollector",
    "webhook": "pipeline.collectors.webhook:WebhookCollector",
    "replay": "pipeline.collectors.jsonl_replay:JsonlReplaySource",
}
"""YAML ``type`` -> the class implementing it (imported only when used)."""

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_POLICY_FIELDS = tuple(RunPolicy.__dataclass_fields__)


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    query: str
    sources: list[str] | None = Field(default=None, description="limit to these networks (RawMention.source)")


class RunDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    poll_interval_s: float = Field(default=300.0, gt=0)
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=300.0, gt=0)
    max_retry_after_s: float = Field(default=3600.0, gt=0)
    max_pages_per_poll: int = Field(default=50, ge=1)
    min_interval_s: float = Field(default=0.0, ge=0)
    idle_timeout_s: float = Field(default=5.0, gt=0)
    backfill_hours: float = Field(default=24.0, ge=0, description="how far back a never-polled source starts")


class SourceEntry(BaseModel):
    """One source. Keys not listed here are the source's own options (validated by its ``Options``)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    type: str
    enabled: bool = True
    base_url: str | None = None
    secrets: dict[str, str] = Field(default_factory=dict,
                                    description="secret name -> ENVIRONMENT VARIABLE NAME holding it")
    poll_interval_s: float | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    backoff_base_s: float | None = None
    backoff_max_s: float | None = None
    max_retry_after_s: float | None = None
    max_pages_per_poll: int | None = None
    min_interval_s: float | None = None
    idle_timeout_s: float | None = None
    backfill_hours: float | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in SOURCE_TYPES:
            raise ValueError(f"unknown source type {value!r} (known: {', '.join(sorted(SOURCE_TYPES))})")
        return value

    @field_validator("secrets")
    @classmethod
    def _env_names_only(cls, value: dict[str, str]) -> dict[str, str]:
        for key, env_name in value.items():
            if not _ENV_NAME.match(env_name):
                raise ValueError(f"secrets.{key} must name an environment variable (like X_BEARER_TOKEN), "
                                 "not hold the secret itself")
        return value

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class CollectorsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employees_csv: Path | None = None
    keep_employee_posts: bool = Field(default=True, description="keep posts by declared employee accounts "
                                                                "even when no rule matches")
    rules: list[RuleConfig] = Field(default_factory=list)
    defaults: RunDefaults = Field(default_factory=RunDefaults)
    sources: list[SourceEntry]

    def matcher(self) -> MentionMatcher:
        rules = []
        for rule in self.rules:
            try:
                rules.append(MatchRule.parse(rule.name, rule.query, sources=rule.sources))
            except QuerySyntaxError as exc:
                raise CollectorConfigError(f"rule {rule.name!r}: {exc}") from exc
            unknown = set(rule.sources or ()) - SOURCES
            if unknown:
                raise CollectorConfigError(f"rule {rule.name!r}: unknown sources {sorted(unknown)}")
        return MentionMatcher(rules)


def load_collectors_config(data: Mapping[str, Any], *, base_dir: Path | None = None) -> CollectorsConfig:
    """Validate the parsed YAML; relative paths are resolved against ``base_dir`` (the file's folder)."""
    try:
        config = CollectorsConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise CollectorConfigError(f"invalid collectors config:\n{exc}") from exc
    names = [s.name for s in config.sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CollectorConfigError(f"source names must be unique; repeated: {', '.join(duplicates)}")
    if base_dir is not None and config.employees_csv is not None and not config.employees_csv.is_absolute():
        config = config.model_copy(update={"employees_csv": base_dir / config.employees_csv})
    config.matcher()  # every rule must parse before anything runs
    return config


def source_class(type_name: str) -> type[Source]:
    module_name, _, class_name = SOURCE_TYPES[type_name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, Source)
    return cls


def build_sources(config: CollectorsConfig, *, secret_lookup: Callable[[str], SecretStr | None],
                  only: list[str] | None = None, base_dir: Path | None = None) -> list[ScheduledSource]:
    """The enabled sources (or exactly ``only``, enabled or not), ready to run."""
    known = {s.name for s in config.sources}
    missing = [n for n in (only or []) if n not in known]
    if missing:
        raise CollectorConfigError(f"no source named {', '.join(missing)} (configured: {', '.join(sorted(known))})")
    scheduled = []
    for entry in config.sources:
        if (only and entry.name not in only) or (not only and not entry.enabled):
            continue
        cls = source_class(entry.type)
        try:
            options = cls.Options.model_validate(_resolve_paths(entry.options, base_dir))
        except ValidationError as exc:
            raise CollectorConfigError(f"source {entry.name!r} ({entry.type}):\n{exc}") from exc
        unknown = set(entry.secrets) - set(cls.required_secrets) - set(cls.optional_secrets)
        if unknown:
            raise CollectorConfigError(f"source {entry.name!r}: unknown secret(s) {sorted(unknown)}; "
                                       f"{entry.type} takes {sorted(cls.required_secrets + cls.optional_secrets)}")
        secrets: dict[str, SecretStr] = {}
        for key, env_name in entry.secrets.items():
            value = secret_lookup(env_name)
            if value is not None:
                secrets[key] = value
        absent = [k for k in cls.required_secrets if k not in secrets]
        if absent:
            names = ", ".join(f"{k} (env {entry.secrets.get(k, '<not mapped in secrets:>')})" for k in absent)
            raise CollectorConfigError(f"source {entry.name!r}: missing secret(s): {names}")
        values = config.defaults.model_dump()
        values.update({k: v for k, v in entry.model_dump(include=set(values)).items() if v is not None})
        policy = RunPolicy(**{k: values[k] for k in _POLICY_FIELDS})
        source = cls(name=entry.name, options=options, secrets=secrets, base_url=entry.base_url,
                     backfill=timedelta(hours=values["backfill_hours"]))
        if cls.needs_base_url and not source.base_url:
            raise CollectorConfigError(f"source {entry.name!r} ({entry.type}) needs base_url")
        scheduled.append(ScheduledSource(source=source, policy=policy))
    return scheduled


def _resolve_paths(options: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """Options named ``path`` or ending in ``_path``/``_file`` are relative to the config file."""
    if base_dir is None:
        return options
    out = dict(options)
    for key, value in options.items():
        is_path = key == "path" or key.endswith("_path") or key.endswith("_file")
        if is_path and isinstance(value, str) and not Path(value).is_absolute():
            out[key] = str(base_dir / value)
    return out
