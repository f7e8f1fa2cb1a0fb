"""``ims-monitor``: the one command line of the project.

    ims-monitor infra up|down|status     local Kafka + Elasticsearch (fetched from Maven Central)
    ims-monitor worker                   the Faust worker: normalise, deduplicate, classify, index
    ims-monitor replay FILE              produce a JSONL file of mentions to Kafka (the replay collector)
    ims-monitor classify --in F --out F  classify JSONL mentions offline, same code path as the worker
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
    for noisy in ("kafka", "elastic_transport", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
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


def main() -> None:
    cli(prog_name="ims-monitor")


if __name__ == "__main__":
    main()
