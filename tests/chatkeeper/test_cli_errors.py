"""Operational errors outside the error tree still print one line, never a traceback."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner

from archive.journal.sqlite import SqliteJournal
from chatkeeper.cli import cli

_real_getaddrinfo = socket.getaddrinfo


def _no_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host == "slack.invalid":
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.mark.parametrize("team", [[], ["--team", "T1"]])
def test_dns_failure_during_backfill_is_one_line(tmp_path: Path, team: list[str]) -> None:
    """`backfill slack` with Slack's name not resolving: exit 1, one line, no token."""
    token = "xoxb-dns-test-token-secret"
    env = {
        "CHATKEEPER_HOME": str(tmp_path),
        "CHATKEEPER_SLACK_BOT_TOKEN": token,
        "CHATKEEPER_SLACK_API_BASE_URL": "https://slack.invalid/api/",
    }
    with mock.patch("socket.getaddrinfo", _no_dns):  # fault injection: the resolver fails
        result = CliRunner().invoke(
            cli, ["backfill", "slack", "--channel", "C0GENERAL", *team], env=env
        )
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1
    assert len(lines) == 1 and lines[0].startswith("chatkeeper: error: ")
    assert "Traceback" not in result.output and token not in result.output


def test_unexpected_error_is_one_line_without_its_message(tmp_path: Path) -> None:
    """A bug (an exception outside the tree) prints its type and origin, not its message."""
    with mock.patch.object(SqliteJournal, "stats", side_effect=KeyError("body text")):
        result = CliRunner().invoke(cli, ["status"], env={"CHATKEEPER_HOME": str(tmp_path)})
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert re.fullmatch(
        r"chatkeeper: error: unexpected KeyError at chatkeeper\.commands\.core:\d+ "
        r"\(a bug: please report it\)",
        line,
    )
