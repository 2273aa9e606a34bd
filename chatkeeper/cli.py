"""The ``chatkeeper`` command: the root group and every command module, imported once.

The group, its error-to-exit-code mapping and logging set-up live in
``chatkeeper/commands/group.py``; each module of ``chatkeeper/commands/``
attaches its commands to it with plain decorators when imported here.
"""

from __future__ import annotations

from chatkeeper.commands import (
    attachments,
    console,
    core,
    demo,
    dispose,
    export,
    holds,
    keys,
    proofs,
    retention,
    review,
    sandbox,
    search,
    serve,
    slack,
    telegram,
)
from chatkeeper.commands.group import cli

COMMAND_MODULES = (
    core,
    keys,
    export,
    search,
    proofs,
    holds,
    retention,
    dispose,
    slack,
    telegram,
    attachments,
    demo,
    serve,
    console,
    review,
    sandbox,
)

__all__ = ["COMMAND_MODULES", "cli", "main"]


def main() -> None:
    cli(prog_name="chatkeeper")
