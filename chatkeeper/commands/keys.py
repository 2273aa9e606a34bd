"""``chatkeeper keys show`` and ``chatkeeper keys rotate``: the signing key and its rotation."""

from __future__ import annotations

import socket

import click

from archive.clock import SystemClock
from archive.keys import local_public_keys
from archive.rotation import rotate_key
from chatkeeper import build
from chatkeeper.commands.group import cli, settings_of


@cli.group("keys")
def keys_group() -> None:
    """The signing key: show it, rotate it."""


@keys_group.command("show")
@click.pass_context
def show_command(ctx: click.Context) -> None:
    """Print the current signing key's id and fingerprint (creating the key on first use)."""
    settings = settings_of(ctx)
    key_dir = settings.home / "keys"
    current = build.signer(settings).public
    click.echo(f"signing key:  {current.key_id}")
    click.echo(f"fingerprint:  {current.fingerprint}")
    click.echo(f"public key:   {key_dir / (current.key_id + '.pub.json')}")
    older = [k for k in local_public_keys(key_dir).values() if k.key_id != current.key_id]
    for key in older:
        click.echo(f"earlier key:  {key.key_id}  fingerprint {key.fingerprint}")
    click.echo(
        f"pin it: chatkeeper verify --key-fingerprint {current.fingerprint}, or "
        f'archive.trusted_keys = ["{current.fingerprint}"]'
    )


@keys_group.command("rotate")
@click.pass_context
def rotate_command(ctx: click.Context) -> None:
    """Create a new signing key, seal its key_rotated record under the old key, switch to it."""
    settings = settings_of(ctx)
    with build.open_journal(settings) as journal, build.open_store(settings) as store:
        result = rotate_key(
            journal,
            store,
            settings.home / "keys",
            build.seal_policy(settings),
            SystemClock(),
            holder=f"{socket.gethostname()}:keys-rotate",
            lease_seconds=settings.schedule.lease_seconds,
        )
    click.echo(f"rotated signing key {result.old.key_id} -> {result.new.key_id}")
    click.echo(f"the key_rotated record is sealed (last bundle {result.bundle}) under the old key")
    click.echo(f"new fingerprint: {result.new.fingerprint}")
    click.echo(
        "verifiers that pin the old key follow the rotation; the old private key is destroyed"
    )
