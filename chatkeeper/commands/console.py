"""``chatkeeper console``: the officers' web console, and its accounts.

``chatkeeper console`` serves the console; ``chatkeeper console user ...``
manages local accounts in the console's SQLite file in the state directory.
The console reads the archive with the read-only identity (the embedded
SeaweedFS's ``auditor``, or ``console.s3_access_key`` for a configured S3)
and writes only officer_action records, into the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import click

from archive.clock import SystemClock
from archive.errors import AccountError
from archive.keys import load_or_create_signer
from chatkeeper import __version__, build
from chatkeeper.commands.export import export_key_dir
from chatkeeper.commands.group import cli, settings_of
from chatkeeper.screening import open_queue, queue_path
from chatkeeper.search_export import MatchingRecords
from chatkeeper.search_index import index_keys, open_index
from chatkeeper.settings import Settings
from console.accounts import AccountStore
from console.archive_view import ArchiveView
from console.audit import AuditTrail
from console.context import Console
from console.oidc import OidcClient
from console.server import run_console
from console.settings import ROLES
from supervision.queue import QueueStore


def open_accounts(settings: Settings) -> AccountStore:
    c = settings.console
    return AccountStore(
        settings.console_db_path,
        SystemClock(),
        lockout_failures=c.lockout_failures,
        lockout_minutes=c.lockout_minutes,
        session_minutes=c.session_minutes,
        idle_minutes=c.idle_minutes,
    )


def reader_settings(settings: Settings) -> Settings:
    """The settings with the console's read-only S3 identity, when one is configured."""
    c = settings.console
    if not c.s3_access_key:
        return settings
    s3 = replace(settings.s3, access_key=c.s3_access_key, secret_key=c.s3_secret_key)
    return replace(settings, s3=s3)


def public_url(settings: Settings, port: int) -> str:
    return settings.console.public_url.rstrip("/") or f"http://{settings.console.host}:{port}"


@contextlib.contextmanager
def open_review_queue(settings: Settings) -> Iterator[QueueStore | None]:
    """The review queue as ``chatkeeper review`` opens it, when supervision is in use here."""
    if not settings.supervision.policy_files and not queue_path(settings).exists():
        yield None
        return
    with open_queue(settings) as queue:
        yield queue


@contextlib.contextmanager
def open_console(settings: Settings, port: int) -> Iterator[Console]:
    """The console's parts: accounts, journal (officer actions, review decisions), verified
    archive view, search index, review queue."""
    c = settings.console
    clock = SystemClock()
    with (
        contextlib.closing(open_accounts(settings)) as accounts,
        build.open_journal(settings) as journal,
        build.open_store(reader_settings(settings), role="auditor") as store,
        open_index(settings) as index,
        open_review_queue(settings) as queue,
    ):
        keys, trust = index_keys(settings, store)  # pinned anchors, as verify
        oidc = None
        if c.oidc_issuer:
            oidc = OidcClient(
                c.oidc_issuer,
                c.oidc_client_id,
                c.oidc_client_secret,
                f"{public_url(settings, port)}/oidc/callback",
                role_claim=c.oidc_role_claim,
            )
        yield Console(
            settings=c,
            accounts=accounts,
            view=ArchiveView(
                store,
                build.layout(settings),
                keys,
                trust,
                cached_conversations=c.cached_conversations,
            ),
            audit=AuditTrail(journal, clock),
            clock=clock,
            export_signer=load_or_create_signer(export_key_dir(settings)),
            oidc=oidc,
            generator=f"chatkeeper {__version__}",
            version=__version__,
            temp_dir=Path(settings.export.temp_dir) if settings.export.temp_dir else None,
            search=index,
            search_backend=settings.search.backend,
            matching=MatchingRecords,
            queue=queue,
        )


def serve_console(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    async def main() -> None:
        with open_console(settings, settings.console.port) as console:
            await run_console(
                console, settings.console.host, settings.console.port, stop=stop, on_ready=on_ready
            )

    asyncio.run(main())


@cli.group("console", invoke_without_command=True)
@click.pass_context
def console_group(ctx: click.Context) -> None:
    """Serve the officers' web console (read-only archive; every action archived)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_of(ctx)

    def ready(port: int) -> None:
        click.echo(f"console at {public_url(settings, port)} (Ctrl-C to stop)")

    serve_console(settings, on_ready=ready)


@console_group.group("user")
def user_group() -> None:
    """Manage console accounts (local passwords, OpenID Connect bindings, roles)."""


def _password(stdin: bool) -> str:
    if stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        raise AccountError("a password needs at least 12 characters")
    return password


def _settings(ctx: click.Context) -> Settings:
    return settings_of(ctx)


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="officer", show_default=True)
@click.option("--oidc-subject", help="Bind to this OpenID Connect subject (sub) instead.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def user_add(
    ctx: click.Context, name: str, role: str, oidc_subject: str | None, password_stdin: bool
) -> None:
    """Add an account (asks for a password unless --oidc-subject)."""
    settings = _settings(ctx)
    password = None if oidc_subject and not password_stdin else _password(password_stdin)
    with contextlib.closing(open_accounts(settings)) as accounts:
        user = accounts.add_user(name, role, password, oidc_subject=oidc_subject)
    click.echo(f"added {user.name} ({user.role})")


@user_group.command("disable")
@click.argument("name")
@click.pass_context
def user_disable(ctx: click.Context, name: str) -> None:
    """Disable an account and end its sessions."""
    with contextlib.closing(open_accounts(_settings(ctx))) as accounts:
        accounts.set_disabled(name, True)
    click.echo(f"disabled {name}")


@user_group.command("enable")
@click.argument("name")
@click.pass_context
def user_enable(ctx: click.Context, name: str) -> None:
    """Enable an account again (also lifts a lock-out)."""
    with contextlib.closing(open_accounts(_settings(ctx))) as accounts:
        accounts.set_disabled(name, False)
    click.echo(f"enabled {name}")


@user_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_context
def user_role(ctx: click.Context, name: str, role: str) -> None:
    """Set an account's role: officer (search, read, export) or admin (also accounts, audit)."""
    with contextlib.closing(open_accounts(_settings(ctx))) as accounts:
        accounts.set_role(name, role)
    click.echo(f"{name} is now {role}")


@user_group.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def user_password(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set an account's password."""
    password = _password(password_stdin)
    with contextlib.closing(open_accounts(_settings(ctx))) as accounts:
        accounts.set_password(name, password)
    click.echo(f"password set for {name}")


@user_group.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """List accounts with their role and state."""
    with contextlib.closing(open_accounts(_settings(ctx))) as accounts:
        for user in accounts.users():
            state = "disabled" if user.disabled else "active"
            if user.locked_until is not None:
                state += f", locked until {user.locked_until.isoformat()}"
            how = "+".join(
                w for w, on in (("password", user.has_password), ("oidc", user.oidc_subject)) if on
            )
            click.echo(f"{user.name}\t{user.role}\t{how}\t{state}")
