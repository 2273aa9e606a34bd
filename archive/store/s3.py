"""S3ArchiveStore: the ArchiveStore port on boto3 (AWS S3, SeaweedFS, Ceph RGW, MinIO).

botocore exceptions stop here (:func:`translate`): connection problems and
timeouts become StoreUnavailableError, refusals become StoreError with the S3
error code. Every call has a connect and a read timeout, so a server that
accepts connections and never answers costs at most ``max_attempts`` times
the timeouts (plus boto3's backoff) before the caller sees StoreUnavailableError;
object bodies read later translate their errors the same way.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from archive.errors import StoreError, StoreUnavailableError
from archive.store.port import LockInfo, ObjectVersion, Retention

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
_NO_LOCK_CONFIG = {"ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"}
_NO_LEGAL_HOLD = _NO_LOCK_CONFIG | {"NoSuchObjectLegalHold"}


def make_client(
    endpoint: str | None,
    access_key: str,
    secret_key: str,
    region: str = "us-east-1",
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    max_attempts: int = 5,
) -> S3Client:
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=16,
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint or None,
        aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key or None,
        region_name=region,
        config=config,
    )


def translate(what: str, bucket: str, exc: Exception) -> StoreError:
    """The chatkeeper error for a botocore exception raised during ``what``."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "?")
        return StoreError(f"S3 refused {what} on bucket {bucket!r}: {code}")
    # Connection refused, DNS, connect and read timeouts, connections closed mid-answer.
    return StoreUnavailableError(f"S3 unavailable during {what}: {exc}")


class _Body(io.RawIOBase):
    """An object body whose read errors are translated like every other S3 call's."""

    def __init__(self, inner: Any, what: str, bucket: str) -> None:
        self.inner = inner
        self.what = what
        self.bucket = bucket

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.inner.read(len(buffer))
        except (BotoCoreError, OSError) as exc:
            raise translate(self.what, self.bucket, exc) from exc
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def _b64(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


class S3ArchiveStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (BotoCoreError, ClientError) as exc:
            raise translate(what, self.bucket, exc) from exc

    def lock_info(self) -> LockInfo:
        versioning = self._call(
            "GetBucketVersioning", lambda: self.client.get_bucket_versioning(Bucket=self.bucket)
        )
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
            lock = config.get("ObjectLockConfiguration", {})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") not in _NO_LOCK_CONFIG:
                raise translate("GetObjectLockConfiguration", self.bucket, exc) from exc
            lock = {}
        except BotoCoreError as exc:
            raise translate("GetObjectLockConfiguration", self.bucket, exc) from exc
        default = lock.get("Rule", {}).get("DefaultRetention", {})
        days = default.get("Days")
        if days is None and default.get("Years") is not None:
            days = int(default["Years"]) * 365
        return LockInfo(
            versioning=versioning.get("Status") == "Enabled",
            object_lock=lock.get("ObjectLockEnabled") == "Enabled",
            default_mode=default.get("Mode"),
            default_days=days,
        )

    def put(self, key: str, data: bytes, *, sha256_hex: str, retention: Retention) -> str:
        response = self._call(
            f"PutObject {key}",
            lambda: self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ChecksumSHA256=_b64(sha256_hex),
                ObjectLockMode=cast(Any, retention.mode),
                ObjectLockRetainUntilDate=retention.retain_until,
            ),
        )
        return self._version_of(key, response)

    def put_stream(
        self, key: str, stream: BinaryIO, *, size: int, sha256_hex: str, retention: Retention
    ) -> str:
        response = self._call(
            f"PutObject {key}",
            lambda: self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=stream,
                ContentLength=size,
                ChecksumSHA256=_b64(sha256_hex),
                ObjectLockMode=cast(Any, retention.mode),
                ObjectLockRetainUntilDate=retention.retain_until,
            ),
        )
        return self._version_of(key, response)

    @staticmethod
    def _version_of(key: str, response: Any) -> str:
        version = response.get("VersionId")
        if not version or version == "null":
            raise StoreError(f"S3 returned no version id for {key}: is versioning on?")
        return str(version)

    def get(self, key: str, version_id: str) -> bytes:
        def fetch() -> bytes:
            body = self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            try:
                return body["Body"].read()
            finally:
                body["Body"].close()

        return self._call(f"GetObject {key}", fetch)

    def get_range(self, key: str, version_id: str, offset: int, size: int) -> bytes:
        def fetch() -> bytes:
            body = self.client.get_object(
                Bucket=self.bucket,
                Key=key,
                VersionId=version_id,
                Range=f"bytes={offset}-{offset + size - 1}",
            )
            try:
                return body["Body"].read()
            finally:
                body["Body"].close()

        return self._call(f"GetObject {key} (bytes {offset}..{offset + size - 1})", fetch)

    def open(self, key: str, version_id: str) -> BinaryIO:
        response = self._call(
            f"GetObject {key}",
            lambda: self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id),
        )
        return cast(BinaryIO, _Body(response["Body"], f"GetObject {key}", self.bucket))

    def versions(self, prefix: str) -> Iterator[ObjectVersion]:
        paginator = self.client.get_paginator("list_object_versions")
        pages = self._call(
            "ListObjectVersions",
            lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix)),
        )
        by_key: dict[str, list[ObjectVersion]] = {}
        markers: dict[str, list[ObjectVersion]] = {}
        for page in pages:
            # S3 lists each key's versions newest first.
            for v in page.get("Versions", []):
                by_key.setdefault(v["Key"], []).append(
                    ObjectVersion(v["Key"], v["VersionId"], v["Size"], v["LastModified"])
                )
            for m in page.get("DeleteMarkers", []):
                markers.setdefault(m["Key"], []).append(
                    ObjectVersion(m["Key"], m["VersionId"], 0, m["LastModified"], True)
                )
        found: list[ObjectVersion] = []
        for key in sorted(by_key.keys() | markers.keys()):
            found += reversed(by_key.get(key, []))
            found += reversed(markers.get(key, []))
        return iter(found)

    def retention(self, key: str, version_id: str) -> Retention | None:
        try:
            response = self.client.get_object_retention(
                Bucket=self.bucket, Key=key, VersionId=version_id
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") in _NO_LOCK_CONFIG:
                return None
            raise translate(f"GetObjectRetention {key}", self.bucket, exc) from exc
        except BotoCoreError as exc:
            raise translate(f"GetObjectRetention {key}", self.bucket, exc) from exc
        data = response.get("Retention", {})
        until = data.get("RetainUntilDate")
        if not isinstance(until, datetime) or "Mode" not in data:
            return None
        return Retention(mode=str(data["Mode"]), retain_until=until)

    def extend_retention(self, key: str, version_id: str, retention: Retention) -> None:
        self._call(
            f"PutObjectRetention {key}",
            lambda: self.client.put_object_retention(
                Bucket=self.bucket,
                Key=key,
                VersionId=version_id,
                Retention={
                    "Mode": cast(Any, retention.mode),
                    "RetainUntilDate": retention.retain_until,
                },
            ),
        )

    def delete_version(self, key: str, version_id: str) -> None:
        self._call(
            f"DeleteObject {key}",
            lambda: self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id),
        )

    def after_fork(self) -> None:
        # Clears botocore's connection pools; the next call opens fresh connections.
        self.client.close()

    def legal_hold(self, key: str, version_id: str) -> bool:
        try:
            response = self.client.get_object_legal_hold(
                Bucket=self.bucket, Key=key, VersionId=version_id
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") in _NO_LEGAL_HOLD:
                return False
            raise translate(f"GetObjectLegalHold {key}", self.bucket, exc) from exc
        except BotoCoreError as exc:
            raise translate(f"GetObjectLegalHold {key}", self.bucket, exc) from exc
        return bool(response.get("LegalHold", {}).get("Status") == "ON")

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        self._call(
            f"PutObjectLegalHold {key}",
            lambda: self.client.put_object_legal_hold(
                Bucket=self.bucket,
                Key=key,
                VersionId=version_id,
                LegalHold={"Status": "ON" if on else "OFF"},
            ),
        )
