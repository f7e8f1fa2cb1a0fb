"""The dashboard's exceptions; the handlers in ``app.py`` turn them into HTTP responses (JSON or a page).

    MonitorError                     (pipeline.errors)
    └── DashboardError
        ├── NotAuthenticated         no valid session                                  -> 401 / sign-in page
        ├── PermissionDenied         the role may not do this                          -> 403
        ├── CsrfRejected             missing/wrong CSRF token or foreign Origin         -> 403
        ├── LoginThrottled           too many failed sign-ins (``retry_after`` seconds) -> 429
        ├── ItemNotFound             no flagged item with that id                       -> 404
        ├── EditConflict             someone changed the item since it was read         -> 409 (``current``)
        ├── InvalidTransition        the review status cannot go from A to B            -> 422
        └── UserError                bad user name, weak password, duplicate user       -> CLI message
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import MonitorError


class DashboardError(MonitorError):
    """Root of the dashboard's errors."""


class NotAuthenticated(DashboardError):
    pass


class PermissionDenied(DashboardError):
    pass


class CsrfRejected(DashboardError):
    pass


class LoginThrottled(DashboardError):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ItemNotFound(DashboardError):
    pass


class EditConflict(DashboardError):
    """The item changed since the client read it; ``current`` is the item as it is now."""

    def __init__(self, message: str, *, current: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.current = current


class InvalidTransition(DashboardError):
    pass


class UserError(DashboardError):
    pass
