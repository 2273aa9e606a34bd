"""The command tree: every command documented, logging configured once for every command."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from archive.keys import load_or_create_signer
from chatkeeper.cli import cli

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _paths(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name))


def test_every_command_is_attached_and_documented() -> None:
    """Importing cli attaches every command module's commands, and docs/cli.md names each one."""
    paths = list(_paths(cli))
    assert paths == [
        "attachments repair",
        "backfill slack",
        "completeness slack",
        "completeness telegram",
        "console user add",
        "console user disable",
        "console user enable",
        "console user list",
        "console user password",
        "console user role",
        "demo",
        "dispose",
        "export",
        "hold create",
        "hold list",
        "hold release",
        "hold show",
        "import slack-export",
        "import telegram-export",
        "index",
        "keys rotate",
        "keys show",
        "local-s3",
        "prove",
        "retention extend",
        "review assign",
        "review clear",
        "review decide",
        "review list",
        "review policies",
        "review rebuild",
        "review report",
        "review screen",
        "review show",
        "sandbox post",
        "seal",
        "search",
        "serve",
        "status",
        "verify",
        "verify-export",
        "verify-proof",
    ]
    assert isinstance(cli.commands["console"], click.Group)  # `chatkeeper console` serves
    docs = DOCS.read_text(encoding="utf-8")
    assert [p for p in [*paths, "console"] if f"chatkeeper {p}" not in docs] == []


@pytest.fixture
def unconfigured_logging() -> Iterator[logging.Logger]:
    """The root logger as if nothing had configured it yet (restored afterwards)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers = [h for h in handlers if type(h).__name__ != "_StderrHandler"]
    root.setLevel(logging.WARNING)
    yield root
    root.handlers = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--format", "jsonl", "--out", "out", "--bundle", "x-y"],
        ["completeness", "slack", "--channel", "C0GENERAL"],
        ["backfill", "slack", "--channel", "C0GENERAL"],
    ],
)
def test_commands_that_never_set_up_logging_now_do(
    args: list[str], tmp_path: Path, unconfigured_logging: logging.Logger
) -> None:
    """export and the Slack commands configure logging from log.level like every command."""
    env = {"CHATKEEPER_HOME": str(tmp_path / "home"), "CHATKEEPER_LOG_LEVEL": "debug"}
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2, result.output  # a bad --bundle, no slack.bot_token
    assert unconfigured_logging.level == logging.DEBUG
    assert [type(h).__name__ for h in unconfigured_logging.handlers].count("_StderrHandler") == 1


def test_a_failed_check_exits_3_after_its_report_without_an_error_line(tmp_path: Path) -> None:
    """verify-export of a folder with no custody manifest: the report, exit 3, no second line."""
    key = load_or_create_signer(tmp_path / "keys").public
    (tmp_path / "export").mkdir()
    pinned = str(tmp_path / "keys" / f"{key.key_id}.pub.json")
    result = CliRunner().invoke(
        cli,
        ["verify-export", str(tmp_path / "export"), "--public-key", pinned],
        env={"CHATKEEPER_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 3, result.output
    assert "INTEGRITY FAILURE" in result.output.splitlines()[-1]
    assert "chatkeeper: error" not in result.output
