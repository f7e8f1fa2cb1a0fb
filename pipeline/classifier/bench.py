"""``ims-monitor bench classify``: how fast the policy model classifies, three ways, on the same texts.

(a) ``onnx_forward``: the bare int8 ONNX forward pass over pre-tokenised windows, sorted by length, at the
    best of several batch sizes (the ceiling for anything built on this graph);
(b) ``classify_path``: the whole ``classify`` code path from raw inputs — tokenising, windowing, batching,
    pooling, heads, thresholds, explanations — the way ``ims-monitor classify`` and the worker call it
    (one window per ONNX run, as served), and ``classify_path_batched`` the same at (a)'s best batch size;
(c) ``torch_fp32``: a plain transformers + torch float32 loop over the texts in arrival order, batch 32,
    mean pooling + the same heads and thresholds (only when torch is importable: it is not a dependency).

The texts are the corpus's held-out examples (dev + test) in file order, so flagged F1 can be compared between
(b) and (c) as well as (for every run) the card's int8-vs-fp32 F1 on test.

Run it::

    ims-monitor bench classify                # JSON on stdout
    ims-monitor bench classify --limit 200
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.classifier.batch import classify_lines
from pipeline.classifier.corpus import CorpusExample
from pipeline.classifier.decisions import decide_labels, is_flagged
from pipeline.classifier.evaluation import BinaryScores
from pipeline.classifier.model import BERT_DIRNAME, OnnxPolicyClassifier
from schemas.records import POLICY_LABELS

FORWARD_BATCH_SIZES = (1, 8, 16, 32, 64)
TORCH_BATCH_SIZE = 32
CLASSIFY_BATCH_SIZE = 256
"""Lines per ``classify`` call in (b) (``ims-monitor classify --batch-size``)."""

Progress = Callable[[str], None]


def _rate(count: int, seconds: float) -> float:
    return round(count / max(seconds, 1e-9), 2)


def bench_forward(classifier: OnnxPolicyClassifier, texts: Sequence[str], *,
                  batch_sizes: Sequence[int] = FORWARD_BATCH_SIZES) -> dict[str, Any]:
    """(a): texts/second of the bare forward pass at each batch size (windows sorted by length)."""
    encoder = classifier.encoder
    windows = [window for text in texts for window in encoder.split_windows(text)]
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    rates: dict[str, float] = {}
    for batch_size in batch_sizes:
        packed = []
        for first in range(0, len(order), batch_size):
            chunk = [windows[i] for i in order[first:first + batch_size]]
            width = max(len(w) for w in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, window in enumerate(chunk):
                ids[row, :len(window)] = window
                mask[row, :len(window)] = 1
            packed.append((ids, mask))
        encoder.forward(*packed[0])  # warm-up
        started = time.perf_counter()
        for ids, mask in packed:
            encoder.forward(ids, mask)
        rates[str(batch_size)] = _rate(len(texts), time.perf_counter() - started)
    best = max(rates, key=lambda key: rates[key])
    return {"texts_per_s": rates[best], "batch_size": int(best), "by_batch_size": rates, "windows": len(windows)}


def bench_classify_path(classifier: OnnxPolicyClassifier, examples: Sequence[CorpusExample], *,
                        batch_size: int = CLASSIFY_BATCH_SIZE) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(b): texts/second of ``classify_lines`` over JSONL lines, parsing and decisions included."""
    import json

    lines = [json.dumps({"id": e.id, "text": e.text, "source": e.source,
                         "author": {"handle": e.author_handle, "is_employee": e.author_is_employee}})
             for e in examples]
    classifier.classify([examples[0].to_input()])  # warm-up
    started = time.perf_counter()
    results = list(classify_lines(classifier, lines, batch_size=batch_size))
    seconds = time.perf_counter() - started
    return {"texts_per_s": _rate(len(lines), seconds), "batch_size": batch_size}, results


def bench_torch(model_dir: Path, classifier: OnnxPolicyClassifier, examples: Sequence[CorpusExample], *,
                batch_size: int = TORCH_BATCH_SIZE) -> tuple[dict[str, Any], list[bool]] | None:
    """(c): a plain transformers + torch fp32 loop (arrival order), or ``None`` without torch."""
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        return None
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir / BERT_DIRNAME), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir / BERT_DIRNAME), local_files_only=True).eval()
    heads = classifier.heads
    weight, bias, employee_weight = (torch.from_numpy(heads.weight), torch.from_numpy(heads.bias),
                                     torch.from_numpy(heads.employee))
    probabilities: list[np.ndarray] = []
    texts = [e.text for e in examples]
    employee = torch.tensor([float(e.author_is_employee) for e in examples])
    with torch.inference_mode():
        model(**tokenizer(texts[:2], return_tensors="pt", padding=True))  # warm-up
        started = time.perf_counter()
        for first in range(0, len(texts), batch_size):
            batch = tokenizer(texts[first:first + batch_size], return_tensors="pt", padding=True, truncation=True,
                              max_length=classifier.encoder.max_length)
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            logits = pooled @ weight.T + bias + employee[first:first + batch_size, None] * employee_weight
            probabilities.append(torch.sigmoid(logits).numpy())
        seconds = time.perf_counter() - started
    flagged: list[bool] = []
    for example, row in zip(examples, np.vstack(probabilities), strict=True):
        scores = {label: float(row[k]) for k, label in enumerate(POLICY_LABELS)}
        labels = decide_labels(scores, classifier.thresholds)
        flagged.append(is_flagged(about_ims=float(row[-1]), author_is_employee=example.author_is_employee,
                                  labels=labels))
    return ({"texts_per_s": _rate(len(texts), seconds), "batch_size": batch_size,
             "torch_version": torch.__version__, "threads": torch.get_num_threads()}, flagged)


def run_classify_bench(classifier: OnnxPolicyClassifier, examples: Sequence[CorpusExample], *,
                       progress: Progress | None = None) -> dict[str, Any]:
    """All three measurements and their ratios, as one JSON-able dict."""
    say = progress or (lambda _message: None)
    texts = [e.text for e in examples]
    gold = [e.flagged for e in examples]
    say(f"(a) bare ONNX forward on {len(texts)} texts")
    forward = bench_forward(classifier, texts)
    say(f"(b) full classify path, {classifier.encoder.batch_size} window(s) per run (as served)")
    full, results = bench_classify_path(classifier, examples)
    full["windows_per_run"] = classifier.encoder.batch_size
    full["flagged_f1"] = round(BinaryScores.count(gold, [bool(r["flagged"]) for r in results]).f1, 4)
    say(f"(b') full classify path at the forward pass's best batch size ({forward['batch_size']})")
    batched_classifier = OnnxPolicyClassifier(classifier.model_dir, precision=classifier.precision,
                                              batch_size=forward["batch_size"])
    batched, batched_results = bench_classify_path(batched_classifier, examples)
    batched["windows_per_run"] = forward["batch_size"]
    batched["flagged_f1"] = round(BinaryScores.count(gold, [bool(r["flagged"]) for r in batched_results]).f1, 4)
    batched["flagged_differs_from_served"] = sum(
        a["flagged"] != b["flagged"] for a, b in zip(results, batched_results, strict=True))
    report: dict[str, Any] = {
        "model": classifier.name, "texts": len(texts), "onnx_forward": forward, "classify_path": full,
        "classify_path_batched": batched,
        "ratio_classify_to_forward": round(full["texts_per_s"] / forward["texts_per_s"], 3),
        "ratio_classify_batched_to_forward": round(batched["texts_per_s"] / forward["texts_per_s"], 3),
        "note_batching": "served with one window per run: int8 dynamic quantisation scales activations over "
                         "the whole batch, so batched results depend on the batch's other texts "
                         "(flagged_differs_from_served counts the flips)",
    }
    card_metrics = classifier.card.get("metrics", {})
    if "test_int8" in card_metrics and "test_fp32" in card_metrics:
        report["card_test_flagged_f1"] = {"int8": card_metrics["test_int8"]["flagged"]["f1"],
                                          "fp32": card_metrics["test_fp32"]["flagged"]["f1"]}
    say("(c) transformers + torch fp32 loop")
    torch_result = bench_torch(classifier.model_dir, classifier, examples)
    if torch_result is None:
        report["torch_fp32"] = None
        report["note"] = "torch is not installed here: (c) skipped (it is not a dependency of the project)"
    else:
        torch_report, torch_flagged = torch_result
        torch_report["flagged_f1"] = round(BinaryScores.count(gold, torch_flagged).f1, 4)
        report["torch_fp32"] = torch_report
        report["ratio_classify_to_torch"] = round(full["texts_per_s"] / torch_report["texts_per_s"], 3)
        report["ratio_classify_batched_to_torch"] = round(batched["texts_per_s"] / torch_report["texts_per_s"], 3)
        report["flagged_f1_delta_vs_torch_fp32"] = round(full["flagged_f1"] - torch_report["flagged_f1"], 4)
    return report
