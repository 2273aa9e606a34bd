"""The ``chatkeeper`` command: the root group and every command module, imported once.

The group, its error-to-exit-code mapping and logging set-up live in
``chatkeeper/commands/group.py``; each module of ``chatkeeper/commands/``
attaches its commands to it with plain decorators when imported here.
"""

from __future__ import annotations

from chatkeeper.commands import attachments, core, demo, export, keys, slack, telegram
from chatkeeper.commands.group import cli
from chatkeeper.serve import serve_command

COMMAND_MODULES = (core, keys, export, slack, telegram, attachments, demo)
cli.add_command(serve_command)  # chatkeeper/serve.py keeps its command until the merge

__all__ = ["COMMAND_MODULES", "cli", "main"]


def main() -> None:
    cli(prog_name="chatkeeper")
