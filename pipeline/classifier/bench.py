"""``ims-monitor bench classify``: how fast the policy model classifies, three ways, on the same texts.

(a) ``onnx_forward``: the bare int8 ONNX forward pass over pre-tokenised windows, sorted by length, in the
    best of several layouts — batches of 1 to 64 windows on every core, or single windows (and small
    batches) with one run in flight per core — the ceiling for anything built on this graph;
(b) ``classify_path``: the whole ``classify`` code path from raw JSONL lines — parsing, tokenising,
    windowing, the forward passes, pooling, heads, thresholds, explanations — the way ``ims-monitor
    classify`` and the worker call it (one window per run, one run in flight per core, as served);
(c) ``torch_fp32``: a plain transformers + torch float32 loop over the texts in arrival order, batch 32,
    the same pooling, heads, n-gram blend and thresholds (only when torch is importable: it is not a dependency).

The texts are the corpus's held-out examples (dev + test) in file order, so flagged F1 can be compared between
(b) and (c) as well as (for every run) the card's int8-vs-fp32 F1 on test.

Why the ratio (b)/(c) is what it is, measured in the same run: ``torch_fp32.padding_factor`` is the tokens the
torch loop computes (each batch padded to its longest text) over the tokens the texts have, which (b) never pads;
``int8_over_fp32_forward`` is what int8 quantisation buys on this CPU, (a) against the same forward pass on the
artifact's fp32 graph. Roughly, (b)/(c) = padding factor x the per-token speed of ONNX Runtime int8 against torch
fp32; the second term depends on the CPU's int8 dot-product instructions (``cpu``: VNNI or AMX make int8 several
times faster than fp32; plain AVX2 barely faster).

Run it::

    ims-monitor bench classify                # JSON on stdout
    ims-monitor bench classify --limit 200
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.classifier.batch import classify_lines
from pipeline.classifier.corpus import CorpusExample
from pipeline.classifier.decisions import decide_labels, is_flagged
from pipeline.classifier.encoder import FP32_FILENAME, TOKENIZER_DIRNAME, OnnxSentenceEncoder
from pipeline.classifier.evaluation import BinaryScores
from pipeline.classifier.model import BERT_DIRNAME, OnnxPolicyClassifier
from pipeline.classifier.ngrams import blend
from schemas.records import POLICY_LABELS

FORWARD_BATCH_SIZES = (1, 8, 16, 32, 64)
TORCH_BATCH_SIZE = 32
CLASSIFY_BATCH_SIZE = 256
"""Lines per ``classify`` call in (b) (``ims-monitor classify --batch-size``)."""

Progress = Callable[[str], None]


def _rate(count: int, seconds: float) -> float:
    return round(count / max(seconds, 1e-9), 2)


def padding_factor(lengths: Sequence[int], batch_size: int) -> float:
    """Tokens computed when texts of these token ``lengths`` are batched in arrival order and each batch padded
    to its longest, over the tokens the texts have (1.0: no padding)."""
    padded = sum(len(batch) * max(batch) for batch in
                 (lengths[first:first + batch_size] for first in range(0, len(lengths), batch_size)))
    return round(padded / max(sum(lengths), 1), 3)


INT8_CPU_FLAGS = ("avx2", "avx512_vnni", "avx_vnni", "amx_int8")
"""/proc/cpuinfo flags that decide how much faster int8 is than fp32 (VNNI and AMX have int8 dot products)."""


def cpu_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any] | None:
    """The CPU's model name and which of :data:`INT8_CPU_FLAGS` it has (Linux; ``None`` elsewhere)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"model": fields.get("model name"), **{flag: flag in flags for flag in INT8_CPU_FLAGS}}


def _forward_layouts(cores: int) -> list[tuple[int, int]]:
    """(windows per run, runs in flight) pairs to try: batches on every core, and single windows one per core."""
    layouts = [(batch_size, 1) for batch_size in FORWARD_BATCH_SIZES]
    if cores > 1:
        layouts += [(batch_size, cores) for batch_size in (1, 4, 8)]
    return layouts


class ForwardTimer:
    """(a): times the bare forward pass over pre-tokenised windows, sorted by length, in a given layout
    ``(windows per run, runs in flight)``; a run in flight per core gets one thread, a lone run every core."""

    def __init__(self, classifier: OnnxPolicyClassifier, examples: Sequence[CorpusExample]) -> None:
        self.classifier = classifier
        self.texts = len(examples)
        contents = classifier.tokenizer([e.text for e in examples], add_special_tokens=False)["input_ids"]
        self.windows = [window for example, content in zip(examples, contents, strict=True)
                        for _, window in classifier.text_windows(content, example.author_is_employee)]
        self.tokens = sum(len(window) for window in self.windows)
        self._order = sorted(range(len(self.windows)), key=lambda i: len(self.windows[i]))
        self._sessions: dict[tuple[int, Path], OnnxSentenceEncoder] = {}

    def _session(self, runs: int, onnx_path: Path) -> OnnxSentenceEncoder:
        if (runs, onnx_path) not in self._sessions:
            self._sessions[runs, onnx_path] = OnnxSentenceEncoder(
                onnx_path, self.classifier.model_dir / TOKENIZER_DIRNAME,
                max_length=self.classifier.max_length, intra_op_threads=1 if runs > 1 else None)
        return self._sessions[runs, onnx_path]

    def tokens_per_s(self, texts_per_s: float) -> float:
        """A rate over these texts in tokens (their windows' tokens, [CLS], marker and [SEP] included)."""
        return round(texts_per_s * self.tokens / self.texts, 1)

    def rate(self, layout: tuple[int, int], *, onnx_path: Path | None = None) -> float:
        """Texts per second in ``layout``, on the served graph unless another ``onnx_path`` is given."""
        batch_size, runs = layout
        encoder = self._session(runs, onnx_path or self.classifier.encoder.onnx_path)
        packed = []
        for first in range(0, len(self._order), batch_size):
            chunk = [self.windows[i] for i in self._order[first:first + batch_size]]
            width = max(len(w) for w in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, window in enumerate(chunk):
                ids[row, :len(window)] = window
                mask[row, :len(window)] = 1
            packed.append((ids, mask))
        encoder.forward(*packed[0])  # warm-up
        started = time.perf_counter()
        if runs == 1:
            for ids, mask in packed:
                encoder.forward(ids, mask)
        else:
            with ThreadPoolExecutor(runs) as pool:
                list(pool.map(lambda feed: encoder.forward(*feed), packed))
        return _rate(self.texts, time.perf_counter() - started)


def _layout_name(layout: tuple[int, int]) -> str:
    return f"{layout[0]}x{layout[1]}"


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
    query = torch.from_numpy(heads.query) if heads.query is not None else None
    probabilities: list[np.ndarray] = []
    markers = classifier.author_markers  # the words the model reads before each post ("" for none)
    texts = [f"{markers[e.author_is_employee]} {e.text}".lstrip() for e in examples]
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=classifier.encoder.max_length)
               ["input_ids"]]
    employee = torch.tensor([float(e.author_is_employee) for e in examples])
    with torch.inference_mode():
        model(**tokenizer(texts[:2], return_tensors="pt", padding=True))  # warm-up
        started = time.perf_counter()
        for first in range(0, len(texts), batch_size):
            batch = tokenizer(texts[first:first + batch_size], return_tensors="pt", padding=True, truncation=True,
                              max_length=classifier.encoder.max_length)
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            if query is None:  # mean pooling
                pooling = mask / mask.sum(1, keepdim=True)
            else:  # label attention, as Heads.token_weights
                pooling = torch.softmax(hidden @ query.T + (1.0 - mask) * -10000.0, dim=1)
            logits = ((pooling * (hidden @ weight.T)).sum(1) + bias
                      + employee[first:first + batch_size, None] * employee_weight)
            probabilities.append(torch.sigmoid(logits).numpy())
        rows = np.vstack(probabilities)
        if classifier.ngrams is not None:  # the same blend with the n-gram model as served
            labels = len(POLICY_LABELS)
            rows[:, :labels] = blend(rows[:, :labels], classifier.ngrams.predict(texts, employee.tolist()),
                                     classifier.ngram_weight)
        seconds = time.perf_counter() - started
    flagged: list[bool] = []
    for example, row in zip(examples, rows, strict=True):
        scores = {label: float(row[k]) for k, label in enumerate(POLICY_LABELS)}
        labels = decide_labels(scores, classifier.thresholds)
        flagged.append(is_flagged(about_ims=float(row[-1]), author_is_employee=example.author_is_employee,
                                  labels=labels))
    return ({"texts_per_s": _rate(len(texts), seconds), "batch_size": batch_size,
             "tokens_per_s": _rate(sum(lengths), seconds), "padding_factor": padding_factor(lengths, batch_size),
             "torch_version": torch.__version__, "threads": torch.get_num_threads()}, flagged)


def run_classify_bench(classifier: OnnxPolicyClassifier, examples: Sequence[CorpusExample], *,
                       repeats: int = 3, progress: Progress | None = None) -> dict[str, Any]:
    """All three measurements and their ratios, as one JSON-able dict (medians of ``repeats`` rounds)."""
    say = progress or (lambda _message: None)
    texts = [e.text for e in examples]
    gold = [e.flagged for e in examples]
    say(f"(a) bare ONNX forward on {len(texts)} texts: every layout once")
    timer = ForwardTimer(classifier, examples)
    sweep = {layout: timer.rate(layout) for layout in _forward_layouts(max(1, os.cpu_count() or 1))}
    best = max(sweep, key=lambda layout: sweep[layout])
    say(f"(a) at {_layout_name(best)} on the fp32 graph, for what int8 buys on this CPU")
    fp32_rate = timer.rate(best, onnx_path=classifier.model_dir / FP32_FILENAME)
    # The machine is shared: (a) at its best layout and (b) are then measured alternately, `repeats` times
    # each, and the medians compared.
    forward_rates: list[float] = []
    classify_rates: list[float] = []
    for round_number in range(1, repeats + 1):
        say(f"round {round_number}/{repeats}: (a) at {_layout_name(best)}, then (b) the full classify path as "
            f"served ({classifier.encoder.batch_size} window per run, {classifier.concurrent_runs} in flight)")
        forward_rates.append(timer.rate(best))
        full, results = bench_classify_path(classifier, examples)
        classify_rates.append(full["texts_per_s"])
    forward_rate = float(np.median(forward_rates))
    forward = {"texts_per_s": forward_rate, "tokens_per_s": timer.tokens_per_s(forward_rate),
               "batch_size": best[0], "runs_in_flight": best[1],
               "rounds": forward_rates, "sweep": {_layout_name(layout): rate for layout, rate in sweep.items()},
               "layout_key": "<windows per run>x<runs in flight>", "windows": len(timer.windows)}
    full["texts_per_s"] = float(np.median(classify_rates))
    full["tokens_per_s"] = timer.tokens_per_s(full["texts_per_s"])
    full["rounds"] = classify_rates
    full["windows_per_run"] = classifier.encoder.batch_size
    full["runs_in_flight"] = classifier.concurrent_runs
    full["flagged_f1"] = round(BinaryScores.count(gold, [bool(r["flagged"]) for r in results]).f1, 4)
    report: dict[str, Any] = {
        "model": classifier.name, "texts": len(texts), "tokens": timer.tokens, "cpu_cores": os.cpu_count(),
        "cpu": cpu_description(), "onnx_forward": forward,
        "onnx_forward_fp32": {"texts_per_s": fp32_rate, "layout": _layout_name(best)},
        "int8_over_fp32_forward": round(sweep[best] / max(fp32_rate, 1e-9), 3),
        "classify_path": full,
        "ratio_classify_to_forward": round(full["texts_per_s"] / forward["texts_per_s"], 3),
        "note_serving": "served with one window per run (no padding; int8 dynamic quantisation scales "
                        "activations over a whole run, so a batch would make a text's scores depend on its "
                        "neighbours), one run in flight per core",
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
        report["flagged_f1_delta_vs_torch_fp32"] = round(full["flagged_f1"] - torch_report["flagged_f1"], 4)
    return report
