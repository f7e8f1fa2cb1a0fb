"""The classifier's commands: ``ims-monitor train``, ``ims-monitor evaluate`` and ``ims-monitor bench classify``.

    ims-monitor train [--force]                          build the policy model (cached; instant when built)
    ims-monitor evaluate [--split test] [--json]         the model and both baselines on the corpus
    ims-monitor bench classify [--limit N]               texts/second, JSON on stdout

``bench`` is a group: other stages add their own ``ims-monitor bench <stage>`` to it.
"""

from __future__ import annotations

import json

import click

from pipeline.settings import Settings

DEFAULT_EVALUATED = ("onnx-model", "keyword-baseline", "sentiment-baseline")


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@click.option("--force", is_flag=True, help="Rebuild even if the cached artifact for this checkout exists.")
@click.pass_obj
def train(settings: Settings, force: bool) -> None:
    """Build the policy model: fine-tune MiniLM (JAX, CPU, fixed seed), export int8 ONNX, choose thresholds on
    dev, write the model card. Cached under IMS_CLASSIFIER__MODELS_DIR keyed by corpus + code; prints the
    artifact folder on stdout. Needs the `train` extra (`pip install -e '.[train]'`)."""
    from pipeline.classifier.training import train_model

    click.echo(str(train_model(settings.classifier, force=force, progress=_echo_err)))


@click.command()
@click.option("--split", type=click.Choice(["train", "dev", "test"]), default="test", show_default=True)
@click.option("--classifier", "names", multiple=True,
              help=f"Classifier to evaluate (repeatable). Default: {', '.join(DEFAULT_EVALUATED)}.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout instead of tables.")
@click.pass_obj
def evaluate(settings: Settings, split: str, names: tuple[str, ...], as_json: bool) -> None:
    """Per-label precision / recall / F1, macro-F1, about_ims and flagged scores on a corpus split, for the
    model and the baselines side by side (the model's thresholds were chosen on dev)."""
    from pipeline.classifier.corpus import by_split, load_corpus
    from pipeline.classifier.evaluation import evaluate as evaluate_classifier
    from pipeline.classifier.evaluation import format_comparison, format_report
    from pipeline.classifier.registry import create_classifier

    examples = by_split(load_corpus(), split)  # type: ignore[arg-type]
    reports = []
    for name in names or DEFAULT_EVALUATED:
        _echo_err(f"evaluating {name} on {len(examples)} {split} examples")
        reports.append(evaluate_classifier(create_classifier(name, settings.classifier), examples))
    if as_json:
        click.echo(json.dumps({"split": split, "reports": [r.to_json() for r in reports]}, indent=2))
        return
    for report in reports:
        click.echo(format_report(report) + "\n")
    click.echo(f"side by side ({split} split)")
    click.echo(format_comparison(reports))


@click.group()
def bench() -> None:
    """Throughput benchmarks; each prints one JSON object on stdout."""


@bench.command("classify")
@click.option("--limit", type=int, default=None, help="Use only the first N held-out examples.")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True,
              help="Rounds of (a) and (b), measured alternately; the medians are reported.")
@click.pass_obj
def bench_classify(settings: Settings, limit: int | None, repeats: int) -> None:
    """Texts/second of (a) the bare int8 ONNX forward pass, (b) the full classify path, (c) a transformers +
    torch fp32 loop (when torch is installed), and the ratios, on the corpus's dev + test examples. Also
    what explains (b)/(c) on this machine: the torch loop's padding factor, int8 against fp32 for (a), and the
    CPU's int8 instructions (VNNI/AMX)."""
    from pipeline.classifier.bench import run_classify_bench
    from pipeline.classifier.corpus import load_corpus
    from pipeline.classifier.model import OnnxPolicyClassifier
    from pipeline.classifier.training import resolve_model_dir

    corpus = load_corpus()
    examples = [e for e in corpus if e.split != "train"][:limit]
    model_dir = resolve_model_dir(settings.classifier, corpus)
    classifier = OnnxPolicyClassifier(model_dir, batch_size=settings.classifier.batch_size,
                                      intra_op_threads=settings.classifier.intra_op_threads,
                                      concurrent_runs=settings.classifier.concurrent_runs)
    click.echo(json.dumps(run_classify_bench(classifier, examples, repeats=repeats, progress=_echo_err), indent=2))


CLASSIFIER_COMMANDS = (train, evaluate, bench)
