"""``chatkeeper sandbox`` and ``chatkeeper sandbox post``: try the bots by hand, no accounts."""

from __future__ import annotations

import asyncio

import click

from chatkeeper.commands.group import cli, settings_of
from chatkeeper.sandbox import PLATFORMS, post_to_sandbox, run_sandbox


@cli.group("sandbox", invoke_without_command=True)
@click.option(
    "--port", type=int, default=0, show_default=True, help="serve's port (0: any free one)."
)
@click.pass_context
def sandbox_group(ctx: click.Context, port: int) -> None:
    """Run serve against the built-in Slack and Telegram fakes on loopback (Ctrl-C stops it)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_of(ctx)
    asyncio.run(run_sandbox(settings, click.echo, port=port))


@sandbox_group.command("post")
@click.option("--platform", type=click.Choice(PLATFORMS), required=True)
@click.option(
    "--user", "user", required=True, help="The person's name (a new name is a new person)."
)
@click.argument("text")
@click.pass_context
def post_command(ctx: click.Context, platform: str, user: str, text: str) -> None:
    """Post TEXT as USER through the running sandbox's fake platform (a signed delivery)."""
    settings = settings_of(ctx)
    answer = post_to_sandbox(settings.home, platform, user, text)
    outcome = "acknowledged" if answer.get("acknowledged") else "NOT acknowledged"
    if platform == "slack":
        click.echo(
            f"slack: {outcome} (HTTP {answer['status']}), event {answer['event_id']} "
            f"from {answer['user']} in {answer['channel']}"
        )
    else:
        click.echo(
            f"telegram: {outcome}, update {answer['update_id']} "
            f"from {answer['user']} in chat {answer['chat']}"
        )
