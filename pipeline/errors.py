"""The pipeline's exceptions.

    MonitorError                 root: anything the pipeline raises on purpose
    ├── ConfigurationError       a setting is missing or contradicts another
    ├── IndexingError            Elasticsearch refused documents after retries (``failures`` per doc id)
    ├── DeliveryError            an alert e-mail was not delivered (``code``/``reply`` from the SMTP server)
    │   ├── TransientDeliveryError   server down, connection lost or a 4xx reply: retried with backoff
    │   └── PermanentDeliveryError   a 5xx reply to this message: recorded as failed, never retried
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


class DeliveryError(MonitorError):
    def __init__(self, message: str, *, code: int | None = None, reply: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reply = reply


class TransientDeliveryError(DeliveryError):
    pass


class PermanentDeliveryError(DeliveryError):
    pass
