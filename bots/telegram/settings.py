"""The ``[telegram]`` settings section."""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.errors import ConfigError

CLOUD_BASE_URL = "https://api.telegram.org/bot"
CLOUD_BASE_FILE_URL = "https://api.telegram.org/file/bot"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True)
class TelegramSettings:
    token: str = ""
    mode: str = "polling"  # polling | webhook
    webhook_url: str = ""  # public HTTPS URL Telegram posts to (setWebhook)
    webhook_path: str = "/telegram/webhook"  # path of the endpoint on the chatkeeper server
    webhook_secret: str = ""  # X-Telegram-Bot-Api-Secret-Token, required in webhook mode
    webhook_max_connections: int = 40
    base_url: str = CLOUD_BASE_URL  # a local Bot API server: http://host:8081/bot
    base_file_url: str = CLOUD_BASE_FILE_URL
    local_mode: bool = False  # the server runs with --local: no 20 MB download cap
    bot_username: str = ""  # optional: checked against getMe at start
    poll_timeout_seconds: int = 30
    poll_limit: int = 100

    @property
    def bot_id(self) -> str:
        """The bot's numeric id: the part of the token before the colon."""
        return self.token.partition(":")[0]

    def validate(self) -> None:
        """Fail closed: webhook mode without a valid secret is refused."""
        if self.mode not in {"polling", "webhook"}:
            raise ConfigError('telegram.mode must be "polling" or "webhook"')
        if self.token and not self.bot_id.isdigit():
            raise ConfigError("telegram.token does not look like <bot id>:<secret>")
        if self.mode == "webhook" and not _SECRET.match(self.webhook_secret):
            raise ConfigError(
                "telegram.webhook_secret is required in webhook mode "
                "(1-256 characters of A-Z, a-z, 0-9, _ and -)"
            )
        if self.mode == "webhook" and not self.webhook_url:
            raise ConfigError("telegram.webhook_url is required in webhook mode")
        if not 1 <= self.poll_limit <= 100:
            raise ConfigError("telegram.poll_limit must be between 1 and 100")
        if not 1 <= self.webhook_max_connections <= 100:
            raise ConfigError("telegram.webhook_max_connections must be between 1 and 100")
