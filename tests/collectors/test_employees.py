from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.collectors.base import build_mention
from pipeline.collectors.employees import EmployeeRegistry
from pipeline.collectors.errors import CollectorConfigError

CSV = """employee_id,network,handle
E1001,x,@Jane_Doe
E1001,bluesky,jane.bsky.social
E1002,email,John.Smith@ims.example
E1003,*,sam_everywhere
"""


def _mention(source: str, handle: str) -> dict:
    return build_mention(source=source, source_id="1", text="t", created_at="2026-11-20T10:00:00Z",
                         author_handle=handle)


def test_declared_accounts_are_linked(tmp_path: Path) -> None:
    path = tmp_path / "employees.csv"
    path.write_text(CSV)
    registry = EmployeeRegistry.from_csv(path)
    assert len(registry) == 4
    cases = [("twitter", "jane_doe", "E1001"), ("twitter", "@JANE_DOE", "E1001"), ("bluesky", "jane.bsky.social", "E1001"),
             ("email", "john.smith@ims.example", "E1002"), ("reddit", "sam_everywhere", "E1003"),
             ("reddit", "jane_doe", None), ("twitter", "someone_else", None)]
    for source, handle, expected in cases:
        mention = _mention(source, handle)
        registry.apply(mention)
        assert mention["author"]["employee_id"] == expected, (source, handle)
        assert mention["author"]["is_employee"] is (expected is not None)


def test_bad_registry_files_are_refused() -> None:
    with pytest.raises(CollectorConfigError, match="missing column"):
        EmployeeRegistry.from_csv_text("id,network,handle\n1,x,a\n")
    with pytest.raises(CollectorConfigError, match="line 2: unknown network"):
        EmployeeRegistry.from_csv_text("employee_id,network,handle\nE1,myspace,a\n")
    with pytest.raises(CollectorConfigError, match="line 3"):
        EmployeeRegistry.from_csv_text("employee_id,network,handle\nE1,x,a\nE2,x,\n")

