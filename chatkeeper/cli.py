"""The ``chatkeeper`` command. Exit codes: 0 ok, 1 error, 2 usage/config, 3 integrity, 4 store unavailable.

Commands live in ``chatkeeper/commands_*.py`` modules; each exposes
``register(cli)`` and is listed in ``_COMMAND_MODULES``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from archive.errors import ChatkeeperError
from chatkeeper import __version__
from chatkeeper.context import AppContext

_COMMAND_MODULES = (
    "chatkeeper.commands_core",
    "chatkeeper.demo",
    "chatkeeper.serve",
    "chatkeeper.commands_slack",
    "chatkeeper.commands_telegram",
    "chatkeeper.commands_export",
    "chatkeeper.commands_search",
    "chatkeeper.commands_console",
)


class ChatkeeperGroup(click.Group):
    """Maps chatkeeper errors to their documented exit codes with a one-line message."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ChatkeeperError as exc:
            click.echo(f"chatkeeper: error: {exc}", err=True)
            sys.exit(exc.exit_code)


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
