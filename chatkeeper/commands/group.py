"""The root ``chatkeeper`` group and the platform groups every command module attaches to.

This is the one place that maps errors to exit codes (``ChatkeeperGroup.invoke``)
and the one place that configures logging (``AppContext.settings``, on the first
load of the settings, for every command). Commands raise; they never call
``sys.exit``.

Exit codes: 0 ok, 1 error, 2 usage/config, 3 integrity, 4 store unavailable.
Every failure prints one line, ``chatkeeper: error: ...``, never a traceback:
a ChatkeeperError with its exit code, an OSError (a file or socket) with 1, and
anything else as an unexpected error naming its type and where it was raised,
with 1. A ChatkeeperError without a message (the command printed its report
first, e.g. a failed ``verify``) exits with its code and no further line.
Registered secrets are scrubbed from the line (``archive.logs.redact``).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from archive.clock import Clock
from archive.errors import ChatkeeperError, ConfigError
from archive.holds import Officer
from archive.logs import redact
from chatkeeper import __version__
from chatkeeper.context import AppContext
from chatkeeper.settings import Settings

# The demo prints its own story; log lines below warning would bury it.
_LOG_LEVEL_OF_COMMAND = {"demo": "warning"}
_PACKAGES = ("archive", "bots", "chatkeeper", "console", "exporters", "search", "supervision")
FC = TypeVar("FC", bound=Callable[..., Any])


class ChatkeeperGroup(click.Group):
    """Maps chatkeeper errors to their documented exit codes with a one-line message."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ChatkeeperError as exc:
            if not str(exc):
                sys.exit(exc.exit_code)  # the command's report already said why
            _fail(str(exc), exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # usage errors (exit 2) and --help/--version: click prints them
        except OSError as exc:
            _fail(_os_message(exc), 1)
        except Exception as exc:
            _fail(f"unexpected {type(exc).__name__} at {_origin(exc)} (a bug: please report it)", 1)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"chatkeeper: error: {redact(message)}", err=True)
    sys.exit(code)


def _os_message(exc: OSError) -> str:
    if exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc) or exc.strerror or type(exc).__name__


def _origin(exc: BaseException) -> str:
    """module:line of the innermost chatkeeper frame (the message may hold data: not shown)."""
    origin = "?"
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".")[0] in _PACKAGES:
            origin = f"{module}:{tb.tb_lineno}"
        tb = tb.tb_next
    return origin


@click.group(cls=ChatkeeperGroup)
@click.version_option(__version__, prog_name="chatkeeper")
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML settings file (default: ./chatkeeper.toml if present).",
)
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="CHATKEEPER_HOME",
    default=None,
    help="State directory: journal, signing key, embedded S3 data (default ./.chatkeeper).",
)
@click.pass_context
def cli(ctx: click.Context, config: Path | None, home: Path | None) -> None:
    """chatkeeper: compliance archiving for Slack and Telegram."""
    level = _LOG_LEVEL_OF_COMMAND.get(ctx.invoked_subcommand or "")
    ctx.obj = AppContext(config=config, home=home, log_level=level)


@cli.group(name="import")
def import_group() -> None:
    """Import platform exports into the journal (idempotent)."""


@cli.group(name="backfill")
def backfill_group() -> None:
    """Fetch history from a platform's API into the journal."""


@cli.group(name="completeness")
def completeness_group() -> None:
    """Report what the archive may be missing, per platform."""


def settings_of(ctx: click.Context) -> Settings:
    """The settings, loaded once per invocation (which also configures logging)."""
    app: AppContext = ctx.find_root().obj
    return app.settings


def public_key_option(help_text: str) -> Callable[[FC], FC]:
    """``--public-key FILE`` (repeatable), as ``public_keys``: verify, export, verify-export."""
    return click.option(
        "--public-key",
        "public_keys",
        multiple=True,
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help=help_text,
    )


def officer_option() -> Callable[[FC], FC]:
    """``--officer NAME``, as ``officer``: hold, retention and dispose seal who acted."""
    return click.option("--officer", help="Who acts (default: the login name); sealed with it.")


def officer_of(name: str | None, clock: Clock) -> Officer:
    """The officer who acts now: ``--officer`` or the login name."""
    return Officer(name or getpass.getuser(), clock.now())


def parse_when(text: str, option: str) -> datetime:
    """An ISO date or time given to ``option``, read as UTC without an offset; ConfigError."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: give a date or time such as 2026-01-31") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
