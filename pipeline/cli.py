"""``ims-monitor``: the one command line of the project.

    ims-monitor infra up|down|status     local Kafka + Elasticsearch (fetched from Maven Central)
    ims-monitor worker                   the Faust worker: normalise, deduplicate, classify, index
    ims-monitor replay FILE              produce a JSONL file of mentions to Kafka (the replay collector)
    ims-monitor collect --config FILE    the network collectors (see config/collectors.example.yaml)
    ims-monitor classify --in F --out F  classify JSONL mentions offline, same code path as the worker
    ims-monitor dashboard                the HR review dashboard (http://127.0.0.1:8080)
    ims-monitor users add|list|disable   who may sign in to the dashboard, with which role
    ims-monitor demo [--once]            everything above on the bundled sample

Global options come before the subcommand: ``ims-monitor --config ims.yaml worker``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from pipeline.settings import Settings, load_settings

BUNDLED_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "mentions.jsonl"


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


def _below_warning_from_the_root_logger_itself(record: logging.LogRecord) -> bool:
    """Hide INFO that libraries log through the root logger itself (onnxruntime's quantiser writes a line per
    tensor while `train` builds the int8 model); -v shows it. Our own modules log through named loggers."""
    return record.name != "root" or record.levelno >= logging.WARNING


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="IMS_CONFIG", help="YAML settings file (env IMS_CONFIG). Env vars IMS_* override it.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, verbose: bool) -> None:
    """Monitor public mentions of Incident Management Solutions (IMS) for breaches of its social-media
    policy: collect -> Kafka -> Faust agents (normalise, deduplicate, classify) -> Elasticsearch for HR.

    Start with `ims-monitor demo --once` (or `make demo`), which starts what it needs.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr,
    )
    for noisy in ("kafka", "elastic_transport", "urllib3", "jax"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_below_warning_from_the_root_logger_itself)
    ctx.obj = load_settings(config_file)


# --------------------------------------------------------------------------------------------------- infra
@cli.group()
def infra() -> None:
    """Run a local Kafka broker and Elasticsearch node on 127.0.0.1 (JVM processes, no Docker).

    Downloads are cached in ~/.m2 and the cache dir; data, logs, PID files and the generated Elasticsearch
    password live in the infra home (`/var/lib/ims-monitor` as root, else ~/.local/share/ims-monitor;
    IMS_INFRA__HOME to change). Ports and heap sizes: IMS_INFRA__KAFKA_PORT, IMS_INFRA__ELASTICSEARCH_HEAP, ...
    """


@infra.command("up")
@click.pass_obj
def infra_up_cmd(settings: Settings) -> None:
    """Fetch (first time) and start Kafka and Elasticsearch; wait until both are healthy."""
    from infra.local import infra_up

    infra_up(settings.infra, progress=_echo_err)


@infra.command("down")
@click.option("--service", "services", multiple=True, type=click.Choice(["kafka", "elasticsearch"]),
              help="Stop only this service (repeatable). Default: both.")
@click.pass_obj
def infra_down_cmd(settings: Settings, services: tuple[str, ...]) -> None:
    """Stop the services `infra up` started (by their recorded PIDs). Data is kept."""
    from infra.local import infra_down

    infra_down(settings.infra, only=list(services) or None, progress=_echo_err)


@infra.command("status")
@click.pass_obj
def infra_status_cmd(settings: Settings) -> None:
    """Print one JSON line per service (running, healthy, pid, port, version). Exit 1 if any is unhealthy."""
    from infra.local import infra_status

    reports = infra_status(settings.infra)
    for report in reports:
        click.echo(json.dumps(report))
    if not all(r["healthy"] for r in reports):
        sys.exit(1)


# -------------------------------------------------------------------------------------------------- worker
@cli.command()
@click.pass_obj
def worker(settings: Settings) -> None:
    """Run the Faust worker: normalise, deduplicate, classify and index mentions until stopped (SIGTERM/Ctrl-C).

    Needs Kafka and Elasticsearch (`ims-monitor infra up`). The consumer group is IMS_WORKER__APP_ID; the
    classifier is IMS_WORKER__CLASSIFIER.
    """
    import faust

    from agents.app import create_app
    from pipeline.classifier.registry import create_classifier
    from pipeline.search.client import create_client
    from pipeline.search.flagged_item_store import ensure_flagged_index

    es = create_client(settings.elasticsearch)
    try:
        ensure_flagged_index(es, settings.elasticsearch.flagged_index)
    finally:
        es.close()
    app = create_app(settings, classifier=create_classifier(settings.worker.classifier, settings.classifier))
    faust.Worker(app, loglevel=settings.worker.log_level).execute_from_commandline()


# ------------------------------------------------------------------------------------------------- collect
@cli.command()
@click.argument("jsonl_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def replay(settings: Settings, jsonl_file: Path) -> None:
    """Produce every mention in JSONL_FILE to the raw-mentions topic (the JSONL replay collector).

    Lines that are not valid mentions are produced too, and the worker dead-letters them with the reason.
    """
    from pipeline.demo import replay as replay_file

    keys = replay_file(settings, jsonl_file)
    _echo_err(f"produced {len(keys)} records to {settings.kafka.topics.raw}")


# ------------------------------------------------------------------------------------------------ classify
@cli.command()
@click.option("--in", "in_file", type=click.File("r", encoding="utf-8"), default="-", show_default=True,
              help="JSONL input, one {id, text, source?, created_at?, author?} per line ('-' = stdin).")
@click.option("--out", "out_file", type=click.File("w", encoding="utf-8"), default="-", show_default=True,
              help="JSONL output, one result per input line, same order ('-' = stdout).")
@click.option("--classifier", "classifier_name", default=None,
              help="Classifier to use (default: the worker's, IMS_WORKER__CLASSIFIER).")
@click.option("--batch-size", default=64, show_default=True)
@click.pass_obj
def classify(settings: Settings, in_file, out_file, classifier_name: str | None, batch_size: int) -> None:
    """Classify mentions offline with the same code path as the worker; progress on stderr.

    A line that is not valid input gets {"id": ..., "error": "..."} and the run continues.
    """
    from pipeline.classifier.batch import classify_jsonl
    from pipeline.classifier.registry import create_classifier

    classifier = create_classifier(classifier_name or settings.worker.classifier, settings.classifier)
    counts = classify_jsonl(classifier, in_file, out_file, batch_size=batch_size, progress=_echo_err)
    _echo_err(json.dumps(counts))


# ---------------------------------------------------------------------------------------------------- demo
@cli.command()
@click.option("--once", is_flag=True, help="Process the sample, print the summary, stop what was started.")
@click.option("--sample", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=BUNDLED_SAMPLE,
              show_default=True, help="JSONL file of mentions to replay.")
@click.option("--timeout", "timeout_s", default=600.0, show_default=True,
              help="Give up if the mentions have not all come through after this many seconds.")
@click.option("--no-local-infra", is_flag=True,
              help="Use the Kafka/Elasticsearch in the settings instead of starting local ones.")
@click.pass_obj
def demo(settings: Settings, once: bool, sample: Path, timeout_s: float, no_local_infra: bool) -> None:
    """Run the whole pipeline on the bundled sample (starts Kafka, Elasticsearch and the worker).

    The last line of stdout is a JSON summary: {"mentions", "flagged", "indexed", "dead_letter"}.
    Without --once the worker keeps running until Ctrl-C.
    """
    from pipeline.demo import run_demo
    from pipeline.errors import MonitorError

    try:
        run_demo(settings, sample=sample, once=once, timeout_s=timeout_s,
                 use_local_infra=not no_local_infra, progress=_echo_err)
    except MonitorError as exc:
        _echo_err(f"demo failed: {exc}")
        sys.exit(1)


from pipeline.collectors.commands import collect  # noqa: E402

cli.add_command(collect)
from pipeline.alerts.commands import alerts  # noqa: E402

cli.add_command(alerts)

from pipeline.dashboard.commands import dashboard, users  # noqa: E402

cli.add_command(dashboard)
cli.add_command(users)

from pipeline.classifier.commands import bench, evaluate, train  # noqa: E402

cli.add_command(train)
cli.add_command(evaluate)
cli.add_command(bench)

from pipeline.images.commands import assets, images  # noqa: E402  (also adds `bench images`)

cli.add_command(assets)
cli.add_command(images)


def main() -> None:
    cli(prog_name="ims-monitor")


if __name__ == "__main__":
    main()
