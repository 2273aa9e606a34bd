"""``[slack]`` settings: credentials, mode, where the Web API lives, limits.

Secrets (``signing_secret``, ``bot_token``, ``app_token``) come from the
environment or ``CHATKEEPER_SLACK_*_FILE``; they are never logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.errors import ConfigError

DEFAULT_API_BASE_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackSettings:
    enabled: bool = False
    mode: str = "http"  # http (Events API) | socket (Socket Mode)
    signing_secret: str = ""
    bot_token: str = ""
    app_token: str = ""
    api_base_url: str = DEFAULT_API_BASE_URL
    events_path: str = "/slack/events"
    commands_path: str = "/slack/commands"
    command_name: str = "/chatkeeper"
    file_hosts: tuple[str, ...] = ("files.slack.com", "files.slack-gov.com")
    api_timeout_seconds: float = 1.5
    identity_cache_seconds: float = 3600.0
    backfill_days: int = 30
    backfill_page_size: int = 200
    backfill_requests_per_minute: float = 50.0
    reconcile_days: int = 2
    reconcile_interval_seconds: float = 6 * 3600.0
    import_max_entry_bytes: int = 256 * 1024 * 1024
    import_max_total_bytes: int = 4 * 1024 * 1024 * 1024


def validate_slack(settings: SlackSettings) -> None:
    """Fail closed before anything listens (DESIGN rule 6)."""
    if settings.mode not in {"http", "socket"}:
        raise ConfigError('slack.mode must be "http" or "socket"')
    if settings.mode == "http" and not settings.signing_secret.strip():
        raise ConfigError("slack.signing_secret is required in HTTP mode")
    if settings.mode == "socket" and not settings.app_token.startswith("xapp-"):
        raise ConfigError("slack.app_token (xapp-...) is required in Socket Mode")
    if not settings.bot_token:
        raise ConfigError("slack.bot_token is required")
    if not settings.api_base_url.endswith("/"):
        raise ConfigError("slack.api_base_url must end with '/'")
