"""The ``[console]`` settings section."""

from __future__ import annotations

from dataclasses import dataclass

from archive.errors import ConfigError

ROLES = ("officer", "admin")
COOKIE_SECURE = ("auto", "always", "never")


@dataclass(frozen=True)
class ConsoleSettings:
    host: str = "127.0.0.1"
    port: int = 8090
    db_path: str = "console.db"  # accounts and sessions, relative to the state directory
    session_minutes: int = 480  # a session ends this long after sign-in
    idle_minutes: int = 30  # ... or after this long without a request
    lockout_failures: int = 5  # failed sign-ins in a row that lock an account
    lockout_minutes: int = 15  # how long a locked account stays locked
    cookie_secure: str = "auto"  # auto (Secure when public_url is https) | always | never
    public_url: str = ""  # the URL officers use, e.g. https://console.example.com
    s3_access_key: str = ""  # read-only S3 identity (configured S3); empty: s3.access_key
    s3_secret_key: str = ""
    oidc_issuer: str = ""  # OpenID Connect provider; empty: local accounts only
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_role_claim: str = ""  # ID-token claim listing roles; empty: oidc_default_role
    oidc_default_role: str = "officer"
    oidc_create_users: bool = False  # False: only users added by `console user add --oidc`
    page_size: int = 50  # search hits shown per page
    cached_conversations: int = 32  # verified conversations kept in memory (0: none)

    def __post_init__(self) -> None:
        if self.cookie_secure not in COOKIE_SECURE:
            raise ConfigError("console.cookie_secure must be auto, always or never")
        if self.oidc_default_role not in ROLES:
            raise ConfigError("console.oidc_default_role must be officer or admin")
        if self.lockout_failures < 1 or self.lockout_minutes < 1:
            raise ConfigError("console.lockout_failures and lockout_minutes must be at least 1")
        if self.session_minutes < 1 or self.idle_minutes < 1:
            raise ConfigError("console.session_minutes and idle_minutes must be at least 1")
        if self.oidc_issuer and not self.oidc_client_id:
            raise ConfigError("console.oidc_issuer is set but console.oidc_client_id is empty")

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure == "auto":
            return self.public_url.startswith("https://")
        return self.cookie_secure == "always"
