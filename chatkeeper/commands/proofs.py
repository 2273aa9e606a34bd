"""Proof commands: ``prove`` (auditor identity) and ``verify-proof`` (offline, no archive)."""

from __future__ import annotations

from pathlib import Path

import click

from archive.errors import ConfigError
from archive.keys import load_public_keys, trusted_keys
from archive.proof import Target, build_proof, proof_bytes
from archive.proof_check import verify_proof
from chatkeeper import build
from chatkeeper.commands.group import cli, public_key_option, settings_of


def _target(
    record_key: str | None, platform: str | None, conversation: str | None, message_id: str | None
) -> Target:
    by_message = (platform, conversation, message_id)
    if record_key and not any(by_message):
        return Target(record_key=record_key.lower())
    if not record_key and all(by_message):
        return Target(platform=platform, conversation=conversation, message_id=message_id)
    raise ConfigError(
        "name the record by --record-key, or by --platform, --conversation and --message-id"
    )


@cli.command("prove")
@click.option("--record-key", help="The record's key (64 hex digits).")
@click.option("--platform", type=click.Choice(["slack", "telegram"]), help="With --message-id.")
@click.option("--conversation", help="Channel or chat id (with --message-id).")
@click.option("--message-id", help="Slack ts or Telegram message id of the original message.")
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Proof file."
)
@public_key_option("Trusted key to check the proof under before writing it (as for verify).")
@click.pass_context
def prove_command(
    ctx: click.Context,
    record_key: str | None,
    platform: str | None,
    conversation: str | None,
    message_id: str | None,
    out: Path,
    public_keys: tuple[Path, ...],
) -> None:
    """Write a self-contained proof that one sealed record is in the archive."""
    settings = settings_of(ctx)
    target = _target(record_key, platform, conversation, message_id)
    with build.open_store(settings, role="auditor") as store:
        proof = build_proof(store, build.layout(settings), target)
        keys, _ = trusted_keys(
            store,
            build.layout(settings),
            own_key_dir=settings.home / "keys",
            key_files=public_keys,
            configured=settings.archive.trusted_keys,
        )
    data = proof_bytes(proof)
    proven = verify_proof(data, keys)  # never hand out a proof that does not verify
    out.write_bytes(data)
    click.echo(
        f"proof of record {proof['record_key']} (bundle {proven.bundle}, seq {proven.seq}, "
        f"checkpoint {proven.checkpoint}) written to {out}"
    )


@cli.command("verify-proof")
@click.argument("proof_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--public-key",
    "public_keys",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    multiple=True,
    required=True,
    help="Pinned signing key (.pub.json); repeatable.",
)
def verify_proof_command(proof_file: Path, public_keys: tuple[Path, ...]) -> None:
    """Check a proof file offline, with no access to the archive (exit 3 if it fails)."""
    proven = verify_proof(proof_file.read_bytes(), load_public_keys(list(public_keys)))
    record = proven.record
    click.echo(f"PROOF VALID: record {record.get('key')} is sealed in stream {proven.stream!r}")
    click.echo(f"  bundle {proven.bundle}, seq {proven.seq}, kind {record.get('kind')}")
    click.echo(
        f"  {record.get('platform')} conversation {record.get('conversation')}, "
        f"message {record.get('message_id')}, occurred {record.get('occurred_at')}"
    )
    click.echo(f"  chained to checkpoint {proven.checkpoint} of {proven.checkpoint_created_at}")
