"""``chatkeeper serve``: run the bots, the attachment worker and scheduled sealing (``chatkeeper/serve.py``)."""

from __future__ import annotations

import asyncio

import click

from chatkeeper.commands.group import cli, settings_of
from chatkeeper.serve import serve


@cli.command("serve")
@click.pass_context
def serve_command(ctx: click.Context) -> None:
    """Run the bots, the attachment worker and scheduled sealing, with /healthz and /metrics."""
    asyncio.run(serve(settings_of(ctx)))
