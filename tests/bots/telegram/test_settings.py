"""The [telegram] section: loaded like every section, and fail-closed checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import ConfigError
from archive.journal.sqlite import SqliteJournal
from bots.telegram.application import TelegramRuntime
from bots.telegram.settings import TelegramSettings
from chatkeeper.settings import load_settings
from tests.bots.telegram.conftest import TOKEN


def test_loaded_from_env_and_secret_file(tmp_path: Path) -> None:
    """The token comes from a *_FILE secret and the mode from the environment."""
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    env = {"CHATKEEPER_TELEGRAM_TOKEN_FILE": str(secret), "CHATKEEPER_TELEGRAM_MODE": "webhook"}
    settings = load_settings(None, tmp_path, env)
    assert settings.telegram.token == TOKEN
    assert settings.telegram.bot_id == "7001234567"
    assert settings.telegram.mode == "webhook"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": "webhook", "webhook_url": "https://x.example/tg"}, "webhook_secret is required"),
        (
            {"mode": "webhook", "webhook_url": "https://x", "webhook_secret": "bad secret!"},
            "webhook_secret",
        ),
        ({"mode": "webhook", "webhook_secret": "ok"}, "webhook_url is required"),
        ({"mode": "socket"}, "telegram.mode"),
        ({"token": "not-a-token"}, "does not look like"),
        ({"poll_limit": 500}, "poll_limit"),
    ],
)
def test_refuses_unsafe_settings(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    """Webhook mode without a valid secret or URL, and malformed values, are refused."""
    settings = TelegramSettings(**{"token": TOKEN, **overrides})  # type: ignore[arg-type]
    with SqliteJournal(tmp_path / "j.db") as journal, pytest.raises(ConfigError, match=message):
        TelegramRuntime(settings, journal)


def test_token_required(tmp_path: Path) -> None:
    """The bot does not start without a token."""
    with SqliteJournal(tmp_path / "j.db") as journal, pytest.raises(ConfigError, match="token"):
        TelegramRuntime(TelegramSettings(), journal)
