"""The classifier's command lines, run as real subprocesses: ``classify`` with the model (the JSONL contract),
``evaluate``, ``bench classify`` and ``train`` (a no-op when the artifact is cached)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline.classifier.corpus import by_split, load_corpus
from schemas.records import POLICY_LABELS

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _cli(*args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], input=stdin, capture_output=True,
                          text=True, env=ENV, timeout=timeout)


def test_classify_keeps_order_and_reports_bad_lines(policy_model_dir: Path) -> None:
    lines = [
        json.dumps({"id": "m1", "text": "Paul Hendry at Incident Management Solutions is stealing from clients "
                    "and falsifying invoices, he is a fraud.", "author": {"handle": "@x", "is_employee": False}}),
        "{not json",
        json.dumps({"id": "m2", "text": "Lovely sunny walk by the canal this morning with the dog."}),
        json.dumps({"id": "m3"}),
        "",
        json.dumps({"id": "m4", "text": "Got wasted on 12 pints at the IMS do, who's bringing the coke next time",
                    "author": {"is_employee": True}}),
    ]
    done = _cli("classify", "--classifier", "onnx-model", "--in", "-", "--out", "-", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["m1", None, "m2", "m3", "m4"]
    assert "line 2" in out[1]["error"] and "JSON" in out[1]["error"]
    assert "text" in out[3]["error"]
    for result in (out[0], out[2], out[4]):
        assert set(result) == {"id", "about_ims", "scores", "labels", "flagged", "risk", "explanations"}
        assert set(result["scores"]) == set(POLICY_LABELS)
        assert set(result["explanations"]) == set(result["labels"])
        assert 0 <= result["risk"] <= 100
    assert out[0]["flagged"] and "defamation" in out[0]["labels"]
    assert not out[2]["flagged"] and out[2]["labels"] == []
    assert out[4]["flagged"] and "safeguarding" in out[4]["labels"]
    assert "classified 6 lines" not in done.stdout and "classified" in done.stderr  # progress on stderr only


def test_classify_reads_and_writes_files(policy_model_dir: Path, tmp_path: Path) -> None:
    test = by_split(load_corpus(), "test")[:30]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": e.id, "text": e.text,
                                          "author": {"is_employee": e.author_is_employee}}) + "\n" for e in test))
    target = tmp_path / "out.jsonl"
    done = _cli("classify", "--classifier", "onnx-model", "--in", str(source), "--out", str(target))
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["id"] for r in results] == [e.id for e in test]
    agree = sum(r["flagged"] == e.flagged for r, e in zip(results, test, strict=True))
    assert agree >= 24  # the model is right on most held-out posts, through the CLI too


def test_evaluate_prints_model_and_baselines(policy_model_dir: Path) -> None:
    done = _cli("evaluate", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["split"] == "test"
    by_name = {r["classifier"].split("/")[0]: r for r in report["reports"]}
    assert set(by_name) == {"onnx-model", "keyword-baseline", "sentiment-baseline"}
    for r in by_name.values():
        assert r["examples"] == len(by_split(load_corpus(), "test"))
        assert set(r["labels"]) == set(POLICY_LABELS)
        assert {"precision", "recall", "f1", "support"} <= set(r["flagged"])
    # The model beats both baselines by a clear margin (the same numbers as the tables).
    model = by_name["onnx-model"]
    for baseline in ("keyword-baseline", "sentiment-baseline"):
        assert model["flagged"]["f1"] >= by_name[baseline]["flagged"]["f1"] + 0.1, baseline
        assert model["macro_f1"] >= by_name[baseline]["macro_f1"] + 0.1, baseline
    assert model["about_ims"]["f1"] >= 0.9
    assert model["flagged"]["recall"] >= 0.85
    table = _cli("evaluate", "--classifier", "keyword-baseline", "--split", "dev")
    assert table.returncode == 0, table.stderr
    assert "macro (8 labels)" in table.stdout and "side by side (dev split)" in table.stdout


def test_bench_classify_reports_rates_and_ratios(policy_model_dir: Path) -> None:
    done = _cli("bench", "classify", "--limit", "48", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["texts"] == 48
    assert report["onnx_forward"]["texts_per_s"] > 0 and report["classify_path"]["texts_per_s"] > 0
    assert report["ratio_classify_to_forward"] > 0
    assert 0.0 <= report["classify_path"]["flagged_f1"] <= 1.0
    assert ("torch_fp32" in report) and (report["torch_fp32"] is None or report["torch_fp32"]["texts_per_s"] > 0)
    # What explains the ratios: tokens behind each rate, int8 against fp32, the CPU's int8 instructions.
    assert report["tokens"] > 3 * report["texts"]  # every window holds [CLS], the author marker and [SEP]
    assert report["onnx_forward"]["tokens_per_s"] > report["onnx_forward"]["texts_per_s"]
    assert report["onnx_forward_fp32"]["texts_per_s"] > 0 and report["int8_over_fp32_forward"] > 0
    assert report["cpu"] is None or set(report["cpu"]) == {"model", "avx2", "avx512_vnni", "avx_vnni", "amx_int8"}


def test_train_is_a_no_op_when_cached(policy_model_dir: Path) -> None:
    before = (policy_model_dir / "model_card.json").stat().st_mtime_ns
    done = _cli("train", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(policy_model_dir)
    assert "up to date" in done.stderr
    assert (policy_model_dir / "model_card.json").stat().st_mtime_ns == before
