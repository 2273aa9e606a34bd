"""``chatkeeper demo``: run the demo (``chatkeeper/demo.py``) and say where to look."""

from __future__ import annotations

import click

from archive.errors import IntegrityError
from chatkeeper import build
from chatkeeper.commands.group import cli, settings_of
from chatkeeper.demo import run_demo


@cli.command("demo")
@click.pass_context
def demo_command(ctx: click.Context) -> None:
    """Capture a sample conversation, seal it to the embedded S3, and verify it."""
    settings = settings_of(ctx)
    result = run_demo(settings, click.echo)
    layout = build.layout(settings)
    home = settings.home
    click.echo("")
    click.echo(
        f"The archive is in bucket {result.bucket!r} of the embedded S3, "
        f"data under {home / 's3' / 'data'}:"
    )
    click.echo(f"  {layout.bundles_prefix}NNNNNNNNNN/records.jsonl.zst  (records, zstd JSON lines)")
    click.echo(f"  {layout.bundles_prefix}NNNNNNNNNN/manifest.json      (signed manifest)")
    click.echo(f"  {layout.prefix}blobs/sha256/..                        (attachments)")
    click.echo("Look at it with:")
    click.echo(f"  .venv/bin/chatkeeper --home {home} status")
    click.echo(f"  .venv/bin/chatkeeper --home {home} verify --deep")
    click.echo(
        f"  .venv/bin/chatkeeper --home {home} local-s3   "
        f"# serve it; credentials in {home / 's3' / 'archiver.env'}"
    )
    click.echo(f"Signing public key: {home / 'keys' / (result.signing_key_id + '.pub.json')}")
    if not result.verified:
        raise IntegrityError()  # the findings above say why
