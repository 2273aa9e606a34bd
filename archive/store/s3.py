"""S3ArchiveStore: the ArchiveStore port on boto3 (AWS S3, SeaweedFS, Ceph RGW, MinIO).

botocore exceptions stop here: connection problems become
StoreUnavailableError, refusals become StoreError with the S3 error code.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from archive.errors import StoreError, StoreUnavailableError
from archive.store.port import LockInfo, ObjectVersion, Retention

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
_UNAVAILABLE = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)


def make_client(
    endpoint: str | None,
    access_key: str,
    secret_key: str,
    region: str = "us-east-1",
    *,
    connect_timeout: float = 5.0,
    max_attempts: int = 5,
) -> S3Client:
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=60,
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


def _b64(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


class S3ArchiveStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except _UNAVAILABLE as exc:
            raise StoreUnavailableError(f"S3 unavailable during {what}: {exc}") from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            raise StoreError(f"S3 refused {what} on bucket {self.bucket!r}: {code}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"S3 error during {what}: {exc}") from exc

    def lock_info(self) -> LockInfo:
        versioning = self._call(
            "GetBucketVersioning", lambda: self.client.get_bucket_versioning(Bucket=self.bucket)
        )
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
            lock = config.get("ObjectLockConfiguration", {})
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in {
                "ObjectLockConfigurationNotFoundError",
                "NoSuchObjectLockConfiguration",
            }:
                raise StoreError(f"S3 refused GetObjectLockConfiguration: {code}") from exc
            lock = {}
        except _UNAVAILABLE as exc:
            raise StoreUnavailableError(f"S3 unavailable: {exc}") from exc
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
        body = self.open(key, version_id)
        try:
            return self._call(f"GetObject {key}", body.read)
        finally:
            body.close()

    def open(self, key: str, version_id: str) -> BinaryIO:
        response = self._call(
            f"GetObject {key}",
            lambda: self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id),
        )
        return cast(BinaryIO, response["Body"])

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
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"}:
                return None
            raise StoreError(f"S3 refused GetObjectRetention {key}: {code}") from exc
        except _UNAVAILABLE as exc:
            raise StoreUnavailableError(f"S3 unavailable: {exc}") from exc
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
