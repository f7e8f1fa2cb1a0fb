"""The pipeline's exceptions.

    MonitorError                 root: anything the pipeline raises on purpose
    ├── ConfigurationError       a setting is missing or contradicts another
    ├── IndexingError            Elasticsearch refused documents after retries (``failures`` per doc id)
    └── DemoTimeout              ``demo --once`` gave up waiting for mentions to come through

Validation errors of records are ``schemas.validation.InvalidRecord`` (records know their own contract);
``infra.errors.InfraError`` covers the local services.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of the pipeline's own errors."""


class ConfigurationError(MonitorError):
    pass


class IndexingError(MonitorError):
    def __init__(self, message: str, *, failures: dict[str, str]) -> None:
        super().__init__(message)
        self.failures = failures


class DemoTimeout(MonitorError):
    pass
