"""OpenID Connect sign-in (authorization code flow with PKCE) for firms with an identity provider.

The console is the relying party: it reads the provider's discovery document,
sends the browser to the authorization endpoint with a fresh ``state``,
``nonce`` and PKCE challenge, exchanges the returned code at the token
endpoint and validates the ID token with PyJWT: signature under a key from
the provider's JWKS (RS256 or ES256 only, never ``none`` or HMAC), issuer,
audience, expiry and the nonce it sent. Anything else is refused.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import jwt

from archive.errors import ConfigError

ALGORITHMS = ["RS256", "ES256"]
_PENDING_SECONDS = 600
_TIMEOUT = aiohttp.ClientTimeout(total=10)


class OidcError(Exception):
    """The provider's answer or the ID token is not acceptable (the sign-in is refused)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider says signed in."""

    subject: str
    email: str | None
    name: str | None
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Pending:
    nonce: str
    verifier: str
    created: float


def _check_url(url: str, what: str) -> None:
    """HTTPS only, except for loopback (a provider on the same machine, and tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        raise ConfigError(f"{what} must be an https URL (http only on loopback): {url}")


class OidcClient:
    """One provider, one client registration."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        *,
        role_claim: str = "",
    ) -> None:
        _check_url(issuer, "console.oidc_issuer")
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.role_claim = role_claim
        self._config: dict[str, Any] | None = None
        self._pending: dict[str, _Pending] = {}

    async def _get_json(self, url: str) -> dict[str, Any]:
        async with aiohttp.ClientSession(timeout=_TIMEOUT) as http, http.get(url) as response:
            if response.status != 200:
                raise OidcError(f"provider answered {response.status} for {url}")
            data = await response.json()
        if not isinstance(data, dict):
            raise OidcError(f"provider sent no JSON object from {url}")
        return data

    async def configuration(self) -> dict[str, Any]:
        if self._config is None:
            config = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if config.get("issuer", "").rstrip("/") != self.issuer:
                raise OidcError("the discovery document names another issuer")
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(config.get(name), str):
                    raise OidcError(f"the discovery document has no {name}")
                _check_url(config[name], name)
            self._config = config
        return self._config

    async def start(self) -> tuple[str, str]:
        """(URL to send the browser to, state to bind to the browser's cookie)."""
        config = await self.configuration()
        now = time.monotonic()
        self._pending = {s: p for s, p in self._pending.items() if now - p.created < 600}
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        self._pending[state] = _Pending(nonce, verifier, now)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": "openid email profile",
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{config['authorization_endpoint']}?{query}", state

    async def finish(self, state: str, cookie_state: str | None, code: str) -> Identity:
        """Check ``state`` (sent and bound to this browser), redeem ``code``, validate the token."""
        if not cookie_state or not secrets.compare_digest(state, cookie_state):
            raise OidcError("state does not match this browser's sign-in")
        pending = self._pending.pop(state, None)
        if pending is None or time.monotonic() - pending.created > _PENDING_SECONDS:
            raise OidcError("unknown or expired sign-in state")
        config = await self.configuration()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code_verifier": pending.verifier,
        }
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as http,
            http.post(config["token_endpoint"], data=form) as response,
        ):
            if response.status != 200:
                raise OidcError(f"token endpoint answered {response.status}")
            tokens = await response.json()
        token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not isinstance(token, str):
            raise OidcError("token endpoint sent no id_token")
        claims = await self.validate(token, pending.nonce)
        return self._identity(claims)

    async def validate(self, token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims if it is signed by the provider for us with our nonce."""
        config = await self.configuration()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise OidcError(f"malformed ID token: {exc}") from exc
        if header.get("alg") not in ALGORITHMS:
            raise OidcError(f"ID token algorithm {header.get('alg')!r} is not accepted")
        jwks = await self._get_json(config["jwks_uri"])
        try:
            keys = jwt.PyJWKSet.from_dict(jwks)
        except jwt.PyJWTError as exc:
            raise OidcError(f"provider JWKS unusable: {exc}") from exc
        matching = [k for k in keys.keys if k.key_id == header.get("kid")]
        if len(matching) != 1:
            raise OidcError("ID token names no key of the provider's JWKS")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=matching[0],
                algorithms=ALGORITHMS,
                audience=self.client_id,
                issuer=config["issuer"],
                options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise OidcError(f"ID token refused: {exc}") from exc
        if not secrets.compare_digest(str(claims.get("nonce")), nonce):
            raise OidcError("ID token nonce does not match the sign-in")
        return claims

    def _identity(self, claims: dict[str, Any]) -> Identity:
        roles: tuple[str, ...] = ()
        if self.role_claim:
            value = claims.get(self.role_claim)
            if isinstance(value, str):
                roles = (value,)
            elif isinstance(value, list):
                roles = tuple(str(v) for v in value)
        email = claims.get("email")
        name = claims.get("preferred_username") or claims.get("name")
        return Identity(
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else None,
            name=name if isinstance(name, str) else None,
            roles=roles,
        )
