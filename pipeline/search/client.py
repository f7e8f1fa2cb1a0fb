"""Elasticsearch clients built from settings (never at import time)."""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch

from pipeline.settings import ElasticsearchSettings


def _client_options(settings: ElasticsearchSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"hosts": [settings.url], "request_timeout": settings.request_timeout_s}
    if settings.api_key is not None:
        options["api_key"] = settings.api_key.get_secret_value()
    elif settings.password is not None:
        options["basic_auth"] = (settings.username, settings.password.get_secret_value())
    if settings.ca_certs is not None:
        options["ca_certs"] = str(settings.ca_certs)
    return options


def create_client(settings: ElasticsearchSettings) -> Elasticsearch:
    return Elasticsearch(**_client_options(settings))


def create_async_client(settings: ElasticsearchSettings) -> AsyncElasticsearch:
    return AsyncElasticsearch(**_client_options(settings))
