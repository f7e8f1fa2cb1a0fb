"""``OnnxPolicyClassifier``: the fine-tuned MiniLM policy model, served on ONNX Runtime (CPU, int8, no torch).

An artifact folder (built by ``ims-monitor train``, see :mod:`pipeline.classifier.training`) holds::

    encoder.int8.onnx   the fine-tuned encoder, dynamically quantised (served)
    encoder.fp32.onnx   the same in float32 (kept for comparison and the benchmark)
    tokenizer/          the tokenizer files
    heads.npz           linear heads on mean-pooled tokens: 8 labels + about_ims
    ngrams.npz          the n-gram model blended with them (:mod:`pipeline.classifier.ngrams`)
    bert/               the fine-tuned weights as config.json + model.safetensors
    model_card.json     base model, data and code hashes, thresholds, metrics

How a text is scored: every window starts with an author marker after ``[CLS]`` (``employee :`` or ``public :``,
:data:`AUTHOR_MARKERS`), so that the encoder reads the words knowing who wrote them; a text of up to 256 tokens
is one window (every training example is); a longer one is read as overlapping passages of 128 tokens
(:func:`window_spans`), so it is read to the end, never truncated, and a harmful passage is not diluted by the
rest of a long document. A window's logit for output ``k`` is ``sum_t a[t, k] * (W[k] · h_t) + b[k] + e[k] *
is_employee``, where the pooling weights ``a[., k]`` sum to 1 over the window's tokens: even (``1/n``) for
mean-pooling heads, ``softmax_t(Q[k] · h_t)`` for heads with label attention (each label reads the tokens that
matter to it); the text's logit is the largest over its windows. A token's share of that logit, ``a[t, k] *
(W[k] · h_t)``, is exact, and the explanation of a label is the words (and runs of adjacent words) of the
deciding window with the largest shares. Finally each label's probability is blended with the n-gram model's,
``(1 - w) * transformer + w * n-grams`` with the weight ``w`` chosen on the dev split (``ngram_weight`` in the
model card; ``about_ims`` is the transformer's alone).

Example::

    from pipeline.classifier.base import ClassifierInput
    from pipeline.classifier.model import OnnxPolicyClassifier

    classifier = OnnxPolicyClassifier(Path("~/.cache/ims-monitor/models/<key>").expanduser())
    [result] = classifier.classify([ClassifierInput(id="1", text="Our manager at IMS is stealing from clients")])
    result.labels, result.explanations   # (['reputation_risk', 'defamation'], {'defamation': ['stealing from clients'], ...})
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.classifier.base import ClassificationResult, ClassifierInput
from pipeline.classifier.decisions import ABOUT_IMS_THRESHOLD, decide_labels, is_flagged, risk_score
from pipeline.classifier.encoder import FP32_FILENAME, INT8_FILENAME, TOKENIZER_DIRNAME, OnnxSentenceEncoder
from pipeline.classifier.finetune import Heads
from pipeline.classifier.ngrams import NGRAM_FILE, NgramModel, blend
from schemas.records import POLICY_LABELS

OUTPUTS: tuple[str, ...] = (*POLICY_LABELS, "about_ims")
"""The heads' outputs, in order."""

MODEL_CARD = "model_card.json"
HEADS_FILE = "heads.npz"
BERT_DIRNAME = "bert"
MAX_LENGTH = 256
"""A text of up to this many tokens ([CLS] and [SEP] included) is read as one window, as in training."""
PASSAGE_LENGTH = 128
PASSAGE_OVERLAP = 64
"""A longer text is read as overlapping passages of this many tokens (about one post each)."""
AUTHOR_MARKERS: dict[bool, str] = {True: "employee :", False: "public :"}
"""Words read after ``[CLS]`` in every window, by ``author.is_employee``: the encoder reads the post knowing
whether a known employee wrote it, which decides labels such as ``disrepute`` (a grievance by staff) against
``reputation_risk`` alone (the same words from a customer). They are not part of the text: explanations and
offsets cover the text only."""
EXPLAIN_TOP_WORDS = 4
"""Words kept per label explanation (adjacent ones are merged into one span)."""


@dataclass(frozen=True)
class TextScores:
    """Raw outputs for one text: probability per output and each content token's logit share."""

    probabilities: np.ndarray  # [outputs]
    token_shares: np.ndarray  # [content tokens, outputs]
    offsets: list[tuple[int, int]]  # character span of each content token


class OnnxPolicyClassifier:
    """The policy model (implements :class:`pipeline.classifier.base.Classifier`)."""

    def __init__(self, model_dir: Path, *, precision: str = "int8", batch_size: int = 1,
                 intra_op_threads: int | None = None, concurrent_runs: int | None = None) -> None:
        """Load an artifact folder written by ``ims-monitor train``.

        Args:
            model_dir: the artifact folder.
            precision: ``"int8"`` (served) or ``"fp32"``.
            batch_size: windows per forward pass (sorted by length, so padding stays small). Keep 1 with
                int8: dynamic quantisation scales activations per tensor, i.e. over the whole batch, so with
                more than one window a text's scores would depend on the texts it is batched with (up to 0.3
                in probability, measured). One window per run also means no padding at all.
            intra_op_threads: ONNX Runtime threads per run; default 1 when runs are concurrent, else all cores.
            concurrent_runs: forward passes in flight at once (threads sharing the one ONNX session, which
                releases the GIL); default: one per CPU core. A short post's run is too small to split
                well across cores, so running one per core is faster than one run on every core.
        """
        concurrent_runs = concurrent_runs if concurrent_runs is not None else max(1, os.cpu_count() or 1)
        if concurrent_runs < 1:
            raise ValueError(f"concurrent_runs must be positive, got {concurrent_runs}")
        if intra_op_threads is None and concurrent_runs > 1:
            intra_op_threads = 1
        self.model_dir = Path(model_dir)
        card_path = self.model_dir / MODEL_CARD
        if not card_path.is_file():
            raise FileNotFoundError(f"{card_path} is missing: build the model with `ims-monitor train`")
        self.card: dict[str, Any] = json.loads(card_path.read_text(encoding="utf-8"))
        thresholds = self.card["thresholds"]
        self.thresholds: dict[str, float] = {label: float(thresholds[label]) for label in POLICY_LABELS}
        self.heads = Heads.load(self.model_dir / HEADS_FILE)
        if self.heads.weight.shape[0] != len(OUTPUTS):
            raise ValueError(f"{self.model_dir / HEADS_FILE} has {self.heads.weight.shape[0]} outputs, "
                             f"expected {len(OUTPUTS)}")
        onnx_file = {"int8": INT8_FILENAME, "fp32": FP32_FILENAME}[precision]
        self.max_length = int(self.card.get("max_length", MAX_LENGTH))
        self.encoder = OnnxSentenceEncoder(self.model_dir / onnx_file, self.model_dir / TOKENIZER_DIRNAME,
                                           max_length=self.max_length, batch_size=batch_size,
                                           intra_op_threads=intra_op_threads)
        self.tokenizer = self.encoder.tokenizer
        self.ngram_weight = float(self.card.get("ngram_weight", 0.0))
        self.ngrams = NgramModel.load(self.model_dir / NGRAM_FILE) if self.ngram_weight > 0 else None
        markers = self.card.get("author_markers", {})  # absent: a model trained without them
        self.author_markers: dict[bool, str] = {flag: markers.get(str(flag).lower(), "") for flag in (True, False)}
        """The words read before each post, by ``author.is_employee`` ("" for none)."""
        self._marker_ids = {flag: author_marker_ids(self.tokenizer, marker) if marker else []
                            for flag, marker in self.author_markers.items()}
        self.concurrent_runs = concurrent_runs
        self._runner = ThreadPoolExecutor(concurrent_runs, thread_name_prefix="onnx-run") \
            if concurrent_runs > 1 else None
        self.precision = precision
        self.name = f"onnx-model/{self.card.get('key', self.card['version'])}-{precision}"
        """Recorded on every classified mention: the artifact's key names its data, code and settings."""

    # ------------------------------------------------------------------------------------------ scoring

    def _tokenize(self, texts: Sequence[str]) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        encoded = self.tokenizer(list(texts), add_special_tokens=False, truncation=False, padding=False,
                                 return_attention_mask=False, return_token_type_ids=False,
                                 return_offsets_mapping=True, verbose=False)
        return ([list(ids) for ids in encoded["input_ids"]],
                [[(int(a), int(b)) for a, b in offsets] for offsets in encoded["offset_mapping"]])

    def score(self, texts: Sequence[str], is_employee: Sequence[bool]) -> list[TextScores]:
        """Probabilities and per-token logit shares of every output, for each text."""
        scored: list[TextScores | None] = [None] * len(texts)
        for index, text_scores in self.score_as_completed(texts, is_employee):
            scored[index] = text_scores
        return scored  # type: ignore[return-value]  # every index is filled

    def score_as_completed(self, texts: Sequence[str],
                           is_employee: Sequence[bool]) -> Iterator[tuple[int, TextScores]]:
        """``(index, scores)`` of each text as soon as its last window is back (not in input order), so that
        the caller's work on one text overlaps the forward passes of the next ones."""
        if len(texts) != len(is_employee):
            raise ValueError("texts and is_employee differ in length")
        if not texts:
            return
        ids, offsets = self._tokenize(texts)
        lexical = self.ngrams.predict(texts, is_employee) if self.ngrams is not None else None
        labels = len(POLICY_LABELS)
        pad_id = self.encoder._pad_id
        windows: list[tuple[int, int, list[int]]] = []  # (text, content start, ids with [CLS], marker, [SEP])
        for index, content in enumerate(ids):
            for start, window in self.text_windows(content, bool(is_employee[index])):
                windows.append((index, start, window))

        weight = self.heads.weight.T.astype(np.float32)  # [hidden, outputs]
        employee = np.asarray(is_employee, dtype=np.float32)
        constant = self.heads.bias[None, :] + employee[:, None] * self.heads.employee[None, :]
        best = np.full((len(texts), len(OUTPUTS)), -np.inf)
        shares = [np.zeros((len(content), len(OUTPUTS)), dtype=np.float64) for content in ids]
        windows_left = np.bincount([text for text, _, _ in windows], minlength=len(texts))
        order = sorted(range(len(windows)), key=lambda i: len(windows[i][2]))
        batch = self.encoder.batch_size
        chunks = [order[first:first + batch] for first in range(0, len(order), batch)]

        def forward(chunk: list[int]) -> np.ndarray:
            width = max(len(windows[i][2]) for i in chunk)
            input_ids = np.full((len(chunk), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                input_ids[row, :len(windows[i][2])] = windows[i][2]
                mask[row, :len(windows[i][2])] = 1
            return self.encoder.forward(input_ids, mask)  # [rows, seq, hidden]

        # Runs go out concurrently; results are folded in, in order, as they come back.
        hidden_states = self._runner.map(forward, chunks) if self._runner is not None else map(forward, chunks)
        for chunk, hidden in zip(chunks, hidden_states, strict=True):
            for row, i in enumerate(chunk):
                text, start, window = windows[i]
                n = len(window)
                skip = 1 + len(self._marker_ids[bool(is_employee[text])])  # [CLS] and the author marker
                tokens = hidden[row, :n]
                token_logits = self.heads.token_weights(tokens) * (tokens @ weight)  # [n, outputs]
                window_logits = token_logits.sum(axis=0) + constant[text]
                better = window_logits > best[text]
                if better.any():
                    best[text, better] = window_logits[better]
                    shares[text][:, better] = 0.0
                    shares[text][start:start + n - 1 - skip, better] = token_logits[skip:n - 1][:, better]
                windows_left[text] -= 1
                if windows_left[text] == 0:
                    probabilities = 1.0 / (1.0 + np.exp(-best[text]))
                    if lexical is not None:
                        probabilities[:labels] = blend(probabilities[:labels], lexical[text], self.ngram_weight)
                    yield text, TextScores(probabilities=probabilities, token_shares=shares[text],
                                           offsets=offsets[text])

    def text_windows(self, content: list[int], is_employee: bool) -> list[tuple[int, list[int]]]:
        """``(content start, window ids)`` of a tokenised text, as the model reads it (see :func:`cut_windows`)."""
        return cut_windows(content, self._marker_ids[is_employee], cls_id=self.encoder._cls_id,
                           sep_id=self.encoder._sep_id, max_length=self.max_length)

    # ------------------------------------------------------------------------------------------ decisions

    def classify(self, inputs: Sequence[ClassifierInput]) -> list[ClassificationResult]:
        results: list[ClassificationResult | None] = [None] * len(inputs)
        scored = self.score_as_completed([item.text for item in inputs], [item.author_is_employee for item in inputs])
        for index, text_scores in scored:
            results[index] = self._decide(inputs[index], text_scores)
        return results  # type: ignore[return-value]  # every index is filled

    def _decide(self, item: ClassifierInput, text_scores: TextScores) -> ClassificationResult:
        probabilities = text_scores.probabilities
        scores = {label: float(probabilities[k]) for k, label in enumerate(POLICY_LABELS)}
        about_ims = float(probabilities[len(POLICY_LABELS)])
        labels = decide_labels(scores, self.thresholds)
        explanations = {label: explain(item.text, text_scores, POLICY_LABELS.index(label)) for label in labels}
        return ClassificationResult(
            id=item.id, about_ims=about_ims, scores=scores, labels=labels,
            flagged=is_flagged(about_ims=about_ims, author_is_employee=item.author_is_employee, labels=labels),
            risk=risk_score(scores=scores, labels=labels, about_ims=about_ims,
                            author_is_employee=item.author_is_employee),
            explanations=explanations,
        )


def window_spans(length: int, *, max_length: int = MAX_LENGTH, passage_length: int = PASSAGE_LENGTH,
                 overlap: int = PASSAGE_OVERLAP) -> list[tuple[int, int]]:
    """Content-token ranges ``[start, end)`` a text of ``length`` tokens is read as (special tokens excluded).

    Up to ``max_length - 2`` tokens: one window, the whole text. Longer: passages of ``passage_length - 2``
    tokens, consecutive ones sharing ``overlap`` tokens, the last one reaching the end: nothing is cut off.
    """
    if length <= max_length - 2:
        return [(0, length)]
    budget = passage_length - 2
    step = budget - overlap
    spans = [(0, budget)]
    while spans[-1][1] < length:
        start = spans[-1][0] + step
        spans.append((start, min(start + budget, length)))
    return spans


def author_marker_ids(tokenizer: Any, marker: str) -> list[int]:
    """The token ids of an author marker (:data:`AUTHOR_MARKERS`), without special tokens."""
    return list(tokenizer(marker, add_special_tokens=False)["input_ids"])


def cut_windows(content: Sequence[int], marker: Sequence[int], *, cls_id: int, sep_id: int,
                max_length: int = MAX_LENGTH) -> list[tuple[int, list[int]]]:
    """``(content start, [CLS] marker content[start:end] [SEP])`` for each window of a tokenised text: the spans
    of :func:`window_spans` with room left for the marker. Training and serving both cut windows here."""
    spans = window_spans(len(content), max_length=max_length - len(marker),
                         passage_length=PASSAGE_LENGTH - len(marker))
    return [(start, [cls_id, *marker, *content[start:end], sep_id]) for start, end in spans]


_STOPWORDS = frozenset("""
a an the and or but if then so as of at by for from in into on onto to up with about over under than too very
i me my mine we us our ours you your yours he him his she her hers it its they them their theirs this that
these those there here who whom whose which what when where why how all any both each few more most other some
such no nor not only own same can will just don should now is are was were be been being have has had having
do does did doing would could ought i'm you're he's she's it's we're they're i've you've we've they've i'd
you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll they'll isn't aren't wasn't weren't hasn't
haven't hadn't doesn't don't didn't won't wouldn't shan't shouldn't can't cannot couldn't mustn't let's
that's who's what's here's there's when's where's why's how's lol haha oh got get also again still even
because another really like one since while until though yet
""".split())
_COMPANY_NAME = re.compile(r"^[@#]?(?:ims(?:_?uk)?|incident|solutions?)$", re.IGNORECASE)
_EDGE_PUNCTUATION = "\"'`.,;:!?()[]{}<>*_-–—…“”‘’"


def _words(text: str, offsets: list[tuple[int, int]]) -> list[tuple[int, int, list[int]]]:
    """Group word pieces into words: (start char, end char, token indices). Pieces that touch join
    (``can't``, ``£2.4m``, ``@IMS_UK``); the word's span is trimmed of punctuation at its edges."""
    groups: list[tuple[int, int, list[int]]] = []
    for index, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        if groups and start == groups[-1][1]:
            first, _, members = groups[-1]
            groups[-1] = (first, end, [*members, index])
        else:
            groups.append((start, end, [index]))
    words = []
    for start, end, members in groups:
        while start < end and text[start] in _EDGE_PUNCTUATION:
            start += 1
        while end > start and text[end - 1] in _EDGE_PUNCTUATION:
            end -= 1
        words.append((start, end, members))
    return words


def _is_cue(word: str) -> bool:
    """Words that can explain a label: not empty, not a function word, not the company's own name."""
    return bool(word) and any(ch.isalnum() for ch in word) and word.lower() not in _STOPWORDS and \
        not _COMPANY_NAME.match(word)


def explain(text: str, text_scores: TextScores, output: int, *, top: int = EXPLAIN_TOP_WORDS) -> list[str]:
    """The spans that pushed ``output`` up most, strongest first.

    Words are ranked by their summed token shares of the output's logit. Among the words that can carry
    meaning (no function words, not the company's name: every flagged post has that), the ``top`` best with
    a share above the text's median are kept; kept words at most one word apart are joined into one span
    (``stealing from clients``).
    """
    words = _words(text, text_scores.offsets)
    if not words:
        return []
    word_of_token = np.full(len(text_scores.offsets), len(words))  # tokens outside any word: a spare bin
    for position, (_, _, members) in enumerate(words):
        word_of_token[members] = position
    share = np.bincount(word_of_token, weights=text_scores.token_shares[:, output], minlength=len(words) + 1)[:-1]
    # Rank against the text's typical word, so that a uniform lift of every token does not count.
    relative = share - np.median(share)
    chosen: list[int] = []
    for i in np.argsort(-relative):
        if relative[i] <= 0 or len(chosen) == top:
            break
        if _is_cue(text[words[i][0]:words[i][1]]):
            chosen.append(int(i))
    chosen.sort()
    spans: list[tuple[float, int, int]] = []
    for position in chosen:
        if spans and position - spans[-1][2] <= 2:
            strength, first, _ = spans[-1]
            spans[-1] = (max(strength, float(relative[position])), first, position)
        else:
            spans.append((float(relative[position]), position, position))
    spans.sort(key=lambda span: -span[0])
    return [text[words[first][0]:words[last][1]] for _, first, last in spans]


def logit(probability: float) -> float:
    probability = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(probability / (1 - probability))


__all__ = ["ABOUT_IMS_THRESHOLD", "AUTHOR_MARKERS", "OUTPUTS", "OnnxPolicyClassifier", "TextScores", "explain"]
