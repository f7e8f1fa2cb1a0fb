"""``ims-monitor collect``: run the collectors of a collectors YAML into Kafka (or print them).

    ims-monitor collect --config config/collectors.yaml                 # run every enabled source until Ctrl-C
    ims-monitor collect --config FILE --source x-recent --once          # one poll of one source, into Kafka
    ims-monitor collect --config FILE --once --dry-run                  # print normalised mentions as JSONL

``--dry-run`` writes the mentions to stdout instead of producing them and does not move any cursor, so it
is safe for checking a configuration. Without it, cursors are kept in ``IMS_COLLECTORS__STATE_DIR``
(``checkpoints.sqlite3``) and per-source health in ``health.json`` there. The health of every source is
printed to stderr as one JSON object at the end; the exit status is 1 when a source failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from pipeline.settings import Settings


def run_collect(settings: Settings, *, config_file: Path, sources: list[str] | None = None, once: bool = False,
                dry_run: bool = False, out: TextIO | None = None,
                state_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Build the runner from the collectors YAML and run it; returns each source's health."""
    from pipeline.collectors.checkpoints import CheckpointStore, MemoryCheckpointStore, SqliteCheckpointStore
    from pipeline.collectors.config import build_sources, load_collectors_config
    from pipeline.collectors.employees import EmployeeRegistry
    from pipeline.collectors.runner import CollectorRunner
    from pipeline.collectors.sinks import JsonlMentionSink, KafkaMentionSink, MentionSink
    from pipeline.settings import read_collectors_file, secret_from_env

    base_dir = config_file.resolve().parent
    config = load_collectors_config(read_collectors_file(config_file), base_dir=base_dir)
    scheduled = build_sources(config, secret_lookup=secret_from_env, only=sources or None, base_dir=base_dir)
    employees = EmployeeRegistry.from_csv(config.employees_csv) if config.employees_csv else EmployeeRegistry()
    state = state_dir or settings.collectors.state_dir
    sink: MentionSink
    checkpoints: CheckpointStore
    if dry_run:
        sink, checkpoints, health_file = JsonlMentionSink(out or sys.stdout), MemoryCheckpointStore(), None
    else:
        from infra.topics import ensure_topics
        from pipeline.collectors.kafka_producer import KafkaMentionProducer

        kafka = settings.kafka
        ensure_topics(kafka.bootstrap_servers, [kafka.topics.raw], partitions=kafka.partitions,
                      replication_factor=kafka.replication_factor)
        sink = KafkaMentionSink(KafkaMentionProducer(bootstrap_servers=kafka.bootstrap_servers,
                                                     topic=kafka.topics.raw))
        checkpoints = SqliteCheckpointStore(state / "checkpoints.sqlite3")
        health_file = state / "health.json"
    runner = CollectorRunner(scheduled, sink=sink, checkpoints=checkpoints, matcher=config.matcher(),
                             employees=employees, health_file=health_file,
                             keep_employee_posts=config.keep_employee_posts)
    try:
        return asyncio.run(_run_until_signalled(runner, once=once))
    finally:
        sink.close()
        close = getattr(checkpoints, "close", None)
        if close is not None:
            close()


async def _run_until_signalled(runner: Any, *, once: bool) -> dict[str, dict[str, Any]]:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, runner.stop)
    return await runner.run(once=once)


@click.command()
@click.option("--config", "config_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Collectors YAML (sources, rules, employee registry); see config/collectors.example.yaml.")
@click.option("--source", "sources", multiple=True, help="Run only this source (repeatable; may be disabled).")
@click.option("--once", is_flag=True, help="Poll each source once (streams until idle) and exit.")
@click.option("--dry-run", is_flag=True, help="Print normalised mentions as JSONL on stdout; produce nothing, "
                                              "move no cursor.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where cursors and health live (default IMS_COLLECTORS__STATE_DIR).")
@click.pass_obj
def collect(settings: Settings, config_file: Path, sources: tuple[str, ...], once: bool, dry_run: bool,
            state_dir: Path | None) -> None:
    """Collect public mentions of IMS from the configured networks into the raw-mentions topic.

    Secrets come from the environment variables the YAML names (never from the file).
    """
    from pipeline.errors import ConfigurationError

    try:
        health = run_collect(settings, config_file=config_file, sources=list(sources), once=once,
                             dry_run=dry_run, state_dir=state_dir)
    except ConfigurationError as exc:
        click.echo(f"collect: {exc}", err=True)
        sys.exit(2)
    click.echo(json.dumps({"sources": health}), err=True)
    if any(h["status"] == "failing" for h in health.values()):
        sys.exit(1)
