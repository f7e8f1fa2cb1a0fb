"""``ims-monitor infra up | down | status``: the local Kafka broker and Elasticsearch node together."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infra.services import LocalService, local_services
from pipeline.settings import InfraSettings


def infra_up(settings: InfraSettings, *, progress: Callable[[str], None] = print) -> list[str]:
    """Start every service that is not running (both at once); return the names of those this call started."""

    def start(service: LocalService) -> bool:
        t0 = time.monotonic()
        progress(f"{service.name}: starting (the first run fetches it from Maven Central) ...")
        if service.start():
            progress(f"{service.name}: up in {time.monotonic() - t0:.1f}s (pid {service.pid()})")
            return True
        progress(f"{service.name}: already running (pid {service.pid()})")
        return False

    services = local_services(settings)
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        futures = [pool.submit(start, service) for service in services]
        errors = [f.exception() for f in futures if f.exception() is not None]
        started = [service.name for service, f in zip(services, futures, strict=True)
                   if f.exception() is None and f.result()]
    if errors:
        infra_down(settings, only=started, progress=progress)
        raise errors[0]  # type: ignore[misc]
    return started


def infra_down(settings: InfraSettings, *, only: list[str] | None = None,
               progress: Callable[[str], None] = print) -> list[str]:
    """Stop the services this project started (all, or those named in ``only``); data is kept."""
    stopped = []
    for service in reversed(local_services(settings)):
        if only is not None and service.name not in only:
            continue
        if service.stop():
            stopped.append(service.name)
            progress(f"{service.name}: stopped")
        else:
            progress(f"{service.name}: not running")
    return stopped


def infra_status(settings: InfraSettings) -> list[dict[str, Any]]:
    return [service.health() for service in local_services(settings)]
