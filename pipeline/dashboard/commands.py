"""``ims-monitor dashboard`` and ``ims-monitor users add|list|disable|enable|set-password``.

    ims-monitor dashboard [--host H] [--port P]     serve the dashboard (default http://127.0.0.1:8080)
    ims-monitor users add hr.lead --role admin       prompts for the password (or --password-stdin)
    ims-monitor users list [--json]
    ims-monitor users disable hr.temp                also ends the user's sessions at once

User changes made here are written to the audit log as ``cli:<os user>``.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from elasticsearch import AsyncElasticsearch

from pipeline.dashboard import auth
from pipeline.dashboard.audit import record_event
from pipeline.dashboard.errors import UserError
from pipeline.dashboard.indices import DashboardIndices, ensure_dashboard_indices
from pipeline.dashboard.models import Role, UserOut
from pipeline.search.client import create_async_client
from pipeline.settings import Settings

T = TypeVar("T")
DEMO_ADMIN = "demo-admin"


def _with_client(settings: Settings, work: Callable[[AsyncElasticsearch, DashboardIndices], Awaitable[T]]) -> T:
    async def main() -> T:
        client = create_async_client(settings.elasticsearch)
        indices = DashboardIndices.from_settings(settings.elasticsearch)
        try:
            await ensure_dashboard_indices(client, indices)
            return await work(client, indices)
        finally:
            await client.close()

    return asyncio.run(main())


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def ensure_demo_admin(settings: Settings) -> tuple[str, str]:
    """Create (or reset the password of) the demo's admin user; returns (user name, new random password)."""
    password = secrets.token_urlsafe(12)

    async def work(client: AsyncElasticsearch, indices: DashboardIndices) -> None:
        if await auth.get_user(client, indices, username=DEMO_ADMIN) is None:
            await auth.create_user(client, indices, username=DEMO_ADMIN, password=password, role=Role.admin,
                                   display_name="Demo administrator")
        else:
            await auth.set_user_password(client, indices, username=DEMO_ADMIN, password=password)
            await auth.set_user_disabled(client, indices, username=DEMO_ADMIN, disabled=False)
        await record_event(client, indices, actor="demo", action="user_add", target=DEMO_ADMIN,
                           details={"role": "admin"})

    _with_client(settings, work)
    return DEMO_ADMIN, password


def dashboard_url(settings: Settings) -> str:
    config = settings.dashboard
    if config.base_url:
        return config.base_url.rstrip("/")
    scheme = "https" if config.tls_certfile else "http"
    return f"{scheme}://{config.host}:{config.port}"


@click.command("dashboard")
@click.option("--host", default=None, help="Interface to listen on (default IMS_DASHBOARD__HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default IMS_DASHBOARD__PORT, 8080).")
@click.pass_obj
def dashboard(settings: Settings, host: str | None, port: int | None) -> None:
    """Serve the HR review dashboard until stopped (SIGTERM/Ctrl-C).

    Needs Elasticsearch (`ims-monitor infra up`) and at least one user (`ims-monitor users add NAME --role admin`).
    TLS: IMS_DASHBOARD__TLS_CERTFILE and IMS_DASHBOARD__TLS_KEYFILE (cookies then become Secure).
    """
    import uvicorn

    from pipeline.dashboard.app import create_app
    from pipeline.search.client import create_client
    from pipeline.search.flagged_item_store import ensure_flagged_index

    config = settings.dashboard.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v is not None})
    settings = settings.model_copy(update={"dashboard": config})
    es = create_client(settings.elasticsearch)
    try:
        ensure_flagged_index(es, settings.elasticsearch.flagged_index)
    finally:
        es.close()
    app = create_app(settings)
    click.echo(f"dashboard on {dashboard_url(settings)}", err=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", server_header=False,
                proxy_headers=False, ssl_certfile=str(config.tls_certfile) if config.tls_certfile else None,
                ssl_keyfile=str(config.tls_keyfile) if config.tls_keyfile else None)


@click.group("users")
def users() -> None:
    """Manage who can sign in to the dashboard (roles: viewer < reviewer < admin)."""


def _print_user(user: UserOut) -> None:
    click.echo(json.dumps(user.model_dump(mode="json")))


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.viewer.value, show_default=True)
@click.option("--display-name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def users_add(settings: Settings, username: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    """Add a user; the password (12+ characters) is prompted for unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(client: AsyncElasticsearch, indices: DashboardIndices) -> UserOut:
        user = await auth.create_user(client, indices, username=username, password=password, role=Role(role),
                                      display_name=display_name)
        await record_event(client, indices, actor=_cli_actor(), action="user_add", target=user.username,
                           details={"role": role})
        return user

    try:
        _print_user(_with_client(settings, work))
    except UserError as exc:
        raise click.ClickException(str(exc)) from None


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def users_list(settings: Settings, as_json: bool) -> None:
    """List users (never their password hashes)."""
    found = _with_client(settings, lambda client, indices: auth.list_users(client, indices))
    for user in found:
        if as_json:
            _print_user(user)
        else:
            state = "disabled" if user.disabled else "active"
            click.echo(f"{user.username:<32} {user.role.value:<9} {state:<9} last sign-in {user.last_login_at or '-'}")


def _set_disabled(settings: Settings, username: str, disabled: bool) -> None:
    async def work(client: AsyncElasticsearch, indices: DashboardIndices) -> UserOut:
        user = await auth.set_user_disabled(client, indices, username=username, disabled=disabled)
        await record_event(client, indices, actor=_cli_actor(), action="user_disable" if disabled else "user_enable",
                           target=user.username)
        return user

    try:
        _print_user(_with_client(settings, work))
    except UserError as exc:
        raise click.ClickException(str(exc)) from None


@users.command("disable")
@click.argument("username")
@click.pass_obj
def users_disable(settings: Settings, username: str) -> None:
    """Disable a user and end all of their sessions."""
    _set_disabled(settings, username, True)


@users.command("enable")
@click.argument("username")
@click.pass_obj
def users_enable(settings: Settings, username: str) -> None:
    """Re-enable a disabled user."""
    _set_disabled(settings, username, False)


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def users_set_password(settings: Settings, username: str, password_stdin: bool) -> None:
    """Set a new password (ends the user's sessions)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)

    async def work(client: AsyncElasticsearch, indices: DashboardIndices) -> None:
        await auth.set_user_password(client, indices, username=username, password=password)
        await record_event(client, indices, actor=_cli_actor(), action="user_password", target=username)

    try:
        _with_client(settings, work)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password of {username} changed", err=True)
