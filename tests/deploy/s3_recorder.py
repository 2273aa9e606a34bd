"""Records every S3 call boto3 clients make, with the access key that signed it.

It swaps boto3's default session for one whose event hooks see each call
(``provide-client-params`` for the API parameters, ``before-call`` for the
credentials), so chatkeeper's own code runs unchanged: every client it makes
with ``boto3.client`` during the recording is observed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3


@dataclass(frozen=True)
class S3Call:
    access_key: str
    operation: str
    bucket: str | None
    key: str | None
    prefix: str | None
    params: frozenset[str]  # names of the parameters given (values are not kept)
    flags: frozenset[str]  # parameters whose value matters for authorization

    def auth_params(self) -> dict[str, bool]:
        """The parameters as far as authorization looks at them."""
        return {name: name not in _FLAGS or name in self.flags for name in self.params}


_FLAGS = ("BypassGovernanceRetention",)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[S3Call] = []

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["recorded_params"] = dict(params)

    def _call(self, model: Any, context: dict[str, Any], request_signer: Any, **_: Any) -> None:
        params = context.get("recorded_params", {})
        credentials = request_signer._credentials.get_frozen_credentials()
        self.calls.append(
            S3Call(
                access_key=credentials.access_key,
                operation=model.name,
                bucket=params.get("Bucket"),
                key=params.get("Key"),
                prefix=params.get("Prefix"),
                params=frozenset(params),
                flags=frozenset(f for f in _FLAGS if params.get(f)),
            )
        )

    def by(self, access_key: str) -> list[S3Call]:
        return [c for c in self.calls if c.access_key == access_key]


@contextmanager
def recording() -> Iterator[Recorder]:
    """Record the S3 calls of every boto3 client created inside the block."""
    recorder = Recorder()
    session = boto3.Session()
    session.events.register("provide-client-params.s3", recorder._params)
    session.events.register("before-call.s3", recorder._call)
    previous = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = session
    try:
        yield recorder
    finally:
        boto3.DEFAULT_SESSION = previous
