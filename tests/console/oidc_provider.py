"""A fake OpenID Connect provider over loopback: discovery, JWKS, authorize and token endpoints.

It signs real ID tokens (RS256 or ES256) and checks what a provider checks:
the client, the redirect URI and the PKCE verifier. Knobs let a test make it
misbehave: sign with a key it does not publish (a forgery), or echo another nonce.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

CLIENT_ID = "chatkeeper-console"
CLIENT_SECRET = "provider-client-secret"


@dataclass
class FakeProvider:
    subject: str = "sub-olivia-0001"
    email: str = "olivia@example.com"
    alg: str = "RS256"
    forge: bool = False  # sign with a key that is not in the JWKS
    wrong_nonce: bool = False
    roles: list[str] = field(default_factory=list)
    redirect_uri: str = ""
    issuer: str = ""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: int = 0

    def __post_init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True)
        ec_jwk = ECAlgorithm.to_jwk(self.ec.public_key(), as_dict=True)
        rsa_jwk.update(kid="rsa-1", use="sig", alg="RS256")
        ec_jwk.update(kid="ec-1", use="sig", alg="ES256")
        return {"keys": [rsa_jwk, ec_jwk]}

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": self.subject,
            "email": self.email,
            "iat": now,
            "exp": now + 300,
            "nonce": "another-nonce" if self.wrong_nonce else nonce,
        }
        if self.roles:
            claims["roles"] = self.roles
        if self.alg == "ES256":
            return jwt.encode(claims, self.ec, algorithm="ES256", headers={"kid": "ec-1"})
        key = self.rogue if self.forge else self.rsa
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "rsa-1"})

    def app(self) -> web.Application:
        async def discovery(_: web.Request) -> web.Response:
            return web.json_response(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                }
            )

        async def jwks(_: web.Request) -> web.Response:
            return web.json_response(self.jwks())

        async def authorize(request: web.Request) -> web.Response:
            q = request.query
            if q.get("client_id") != CLIENT_ID or q.get("redirect_uri") != self.redirect_uri:
                return web.Response(status=400, text="unknown client or redirect_uri")
            if q.get("code_challenge_method") != "S256" or "openid" not in q.get("scope", ""):
                return web.Response(status=400, text="PKCE S256 and scope openid required")
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": q["nonce"], "challenge": q["code_challenge"]}
            target = f"{self.redirect_uri}?{urlencode({'code': code, 'state': q['state']})}"
            raise web.HTTPFound(target)

        async def token(request: web.Request) -> web.Response:
            self.token_requests += 1
            form = await request.post()
            grant = self.codes.pop(str(form.get("code")), None)
            if grant is None or form.get("client_secret") != CLIENT_SECRET:
                return web.json_response({"error": "invalid_grant"}, status=400)
            verifier = str(form.get("code_verifier", ""))
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                return web.json_response({"error": "invalid_grant"}, status=400)
            return web.json_response(
                {"id_token": self.id_token(grant["nonce"]), "token_type": "Bearer"}
            )

        app = web.Application()
        app.add_routes(
            [
                web.get("/.well-known/openid-configuration", discovery),
                web.get("/jwks", jwks),
                web.get("/authorize", authorize),
                web.post("/token", token),
            ]
        )
        return app


async def start_provider(provider: FakeProvider) -> TestServer:
    server = TestServer(provider.app(), host="127.0.0.1", port=0)
    await server.start_server()
    provider.issuer = f"http://127.0.0.1:{server.port}"
    return server
