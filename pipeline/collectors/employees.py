"""Employee linkage: the opt-in registry of employees' declared accounts.

The registry is a CSV file with a header row ``employee_id,network,handle``; one row per declared account::

    employee_id,network,handle
    E1001,twitter,jane_doe
    E1001,bluesky,jane.bsky.social
    E1002,email,john.smith@example.com

``network`` is a ``RawMention.source`` value (``x`` is accepted for ``twitter``; ``*`` means any network).
Handles compare case-insensitively and without a leading '@', and are written as the collectors see them:
X/Reddit/Tumblr/YouTube usernames, Mastodon ``user@instance``, Bluesky handles (or DIDs for the firehose),
email addresses, Facebook numeric user ids. A mention whose author matches gets
``author.is_employee = true`` and ``author.employee_id``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from pipeline.collectors.errors import CollectorConfigError
from pipeline.collectors.matching import normalise_handle
from schemas.records import SOURCES

NETWORK_ALIASES = {"x": "twitter", "twitter": "twitter", "bsky": "bluesky", "mail": "email", "e-mail": "email"}
REQUIRED_COLUMNS = ("employee_id", "network", "handle")


class EmployeeRegistry:
    def __init__(self, accounts: dict[tuple[str, str], str] | None = None) -> None:
        self._accounts = dict(accounts or {})

    def __len__(self) -> int:
        return len(self._accounts)

    @classmethod
    def from_csv_text(cls, text: str, *, origin: str = "employee registry") -> EmployeeRegistry:
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise CollectorConfigError(f"{origin}: missing column(s) {', '.join(missing)} "
                                       f"(header must include {','.join(REQUIRED_COLUMNS)})")
        accounts: dict[tuple[str, str], str] = {}
        for line_no, row in enumerate(reader, start=2):
            values = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            if not any(values.values()):
                continue
            employee_id, network, handle = (values.get(c, "") for c in REQUIRED_COLUMNS)
            if not employee_id or not network or not handle:
                raise CollectorConfigError(f"{origin} line {line_no}: employee_id, network and handle are required")
            network = NETWORK_ALIASES.get(network.lower(), network.lower())
            if network != "*" and network not in SOURCES:
                raise CollectorConfigError(f"{origin} line {line_no}: unknown network {network!r}")
            accounts[(network, normalise_handle(handle))] = employee_id
        return cls(accounts)

    @classmethod
    def from_csv(cls, path: Path) -> EmployeeRegistry:
        return cls.from_csv_text(path.read_text(encoding="utf-8-sig"), origin=str(path))

    def lookup(self, network: str, handle: str) -> str | None:
        key = normalise_handle(handle)
        return self._accounts.get((network, key)) or self._accounts.get(("*", key))

    def apply(self, mention: dict[str, Any]) -> None:
        """Mark the mention's author as an employee when the account is declared."""
        author = mention.get("author") or {}
        employee_id = self.lookup(str(mention.get("source", "")), str(author.get("handle", "")))
        if employee_id is not None:
            author["is_employee"] = True
            author["employee_id"] = employee_id
