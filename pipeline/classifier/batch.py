"""Classifying JSONL files: the engine of ``ims-monitor classify`` (the worker's agent calls the same
``Classifier.classify`` on the same ``ClassifierInput``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

from pipeline.classifier.base import Classifier, ClassifierInput

Progress = Callable[[str], None]


def _parse(line: str, line_number: int) -> ClassifierInput | dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"id": None, "error": f"line {line_number}: not valid JSON: {exc.msg}"}
    try:
        return ClassifierInput.from_json(obj)
    except ValueError as exc:
        raw_id = obj.get("id") if isinstance(obj, dict) else None
        return {"id": raw_id if isinstance(raw_id, str) else None, "error": f"line {line_number}: {exc}"}


def classify_lines(classifier: Classifier, lines: Iterable[str], *, batch_size: int = 64,
                   progress: Progress | None = None) -> Iterable[dict[str, Any]]:
    """One output object per non-blank input line, in input order."""
    pending: list[ClassifierInput | dict[str, Any]] = []
    done = 0
    started = time.monotonic()

    def flush() -> list[dict[str, Any]]:
        nonlocal done
        valid = [item for item in pending if isinstance(item, ClassifierInput)]
        results = iter(classifier.classify(valid)) if valid else iter(())
        out = [next(results).to_json() if isinstance(item, ClassifierInput) else item for item in pending]
        done += len(pending)
        pending.clear()
        if progress is not None:
            rate = done / max(time.monotonic() - started, 1e-9)
            progress(f"classified {done} lines ({rate:.0f}/s)")
        return out

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        pending.append(_parse(line, number))
        if len(pending) >= batch_size:
            yield from flush()
    if pending:
        yield from flush()


def classify_jsonl(classifier: Classifier, in_file: IO[str], out_file: IO[str], *, batch_size: int = 64,
                   progress: Progress | None = None) -> dict[str, int]:
    counts = {"lines": 0, "errors": 0, "flagged": 0}
    for result in classify_lines(classifier, in_file, batch_size=batch_size, progress=progress):
        counts["lines"] += 1
        counts["errors"] += "error" in result
        counts["flagged"] += bool(result.get("flagged"))
        out_file.write(json.dumps(result, ensure_ascii=False) + "\n")
    out_file.flush()
    return counts
