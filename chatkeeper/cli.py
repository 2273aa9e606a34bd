"""The ``chatkeeper`` command. Exit codes: 0 ok, 1 error, 2 usage/config, 3 integrity, 4 store unavailable.

Commands live in ``chatkeeper/commands_*.py`` modules; each exposes
``register(cli)`` and is listed in ``_COMMAND_MODULES``.

Every failure prints one line, ``chatkeeper: error: ...``, never a traceback:
a ChatkeeperError with its exit code, an OSError (a file or socket) with 1, and
anything else as an unexpected error naming its type and where it was raised,
with 1. Registered secrets are scrubbed from the line (``archive.logs.redact``).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import NoReturn

import click

from archive.errors import ChatkeeperError
from archive.logs import redact
from chatkeeper import __version__
from chatkeeper.context import AppContext

_COMMAND_MODULES = (
    "chatkeeper.commands_core",
    "chatkeeper.demo",
    "chatkeeper.serve",
    "chatkeeper.commands_slack",
    "chatkeeper.commands_telegram",
    "chatkeeper.commands_export",
    "chatkeeper.commands_attachments",
    "chatkeeper.commands_review",
)


class ChatkeeperGroup(click.Group):
    """Maps chatkeeper errors to their documented exit codes with a one-line message."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ChatkeeperError as exc:
            _fail(str(exc), exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # usage errors (exit 2) and --help/--version: click prints them
        except OSError as exc:
            _fail(_os_message(exc), 1)
        except Exception as exc:
            _fail(f"unexpected {type(exc).__name__} at {_origin(exc)} (a bug: please report it)", 1)


_PACKAGES = ("archive", "bots", "chatkeeper", "exporters", "supervision")


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
    ctx.obj = AppContext(config=config, home=home)


@cli.group(name="import")
def import_group() -> None:
    """Import platform exports into the journal (idempotent)."""


@cli.group(name="backfill")
def backfill_group() -> None:
    """Fetch history from a platform's API into the journal."""


for _module in _COMMAND_MODULES:
    importlib.import_module(_module).register(cli)


def main() -> None:
    cli(prog_name="chatkeeper")
