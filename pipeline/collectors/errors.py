"""Collectors' exceptions (all under ``pipeline.errors.MonitorError``).

    MonitorError
    ├── ConfigurationError
    │   ├── CollectorConfigError     the collectors YAML is invalid (bad source entry, missing secret ...)
    │   └── QuerySyntaxError         a matching rule does not parse; ``position`` points at the problem
    └── CollectorError               a source failed at run time
        ├── SourceRequestError       the source answered with an error it will not recover from (4xx)
        ├── RateLimited              the source said "slow down" (429 ...); ``retry_after`` in seconds
        ├── RetriesExhausted         transient failures (timeouts, 5xx, 429) outlasted the retry budget
        └── DeliveryFailed           the sink (Kafka) did not acknowledge; the cursor was not moved
"""

from __future__ import annotations

from pipeline.errors import ConfigurationError, MonitorError


class CollectorConfigError(ConfigurationError):
    pass


class QuerySyntaxError(ConfigurationError):
    """A boolean query that does not parse. ``str(exc)`` shows the query with a caret under ``position``."""

    def __init__(self, message: str, *, query: str, position: int) -> None:
        self.message = message
        self.query = query
        self.position = position
        super().__init__(f"{message} at position {position}\n  {query}\n  {' ' * position}^")


class CollectorError(MonitorError):
    pass


class SourceRequestError(CollectorError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(CollectorError):
    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetriesExhausted(CollectorError):
    pass


class DeliveryFailed(CollectorError):
    pass
