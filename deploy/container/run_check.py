"""Run the built chatkeeper image against real services on loopback and check what it does.

Called by deploy/container/check.sh after the build. On the host it starts the
embedded S3 (SeaweedFS, Object Lock) with its identities, a fresh PostgreSQL
database, and the fake Slack Web API; the container runs ``chatkeeper serve``
with podman (host network, read-only root filesystem, no capabilities, user
10001), configured by CHATKEEPER_* variables and secrets mounted as files. It
then checks /healthz, the image's HEALTHCHECK, that one signed Slack delivery is
journaled in PostgreSQL, and that the scheduler seals it into a bundle that
verifies with the auditor's credentials. Prints one line per check; exit 1 on
the first failure. Secrets are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from archive.bundle import Layout
from archive.journal.postgres import PostgresJournal
from archive.keys import load_or_create_signer
from archive.store.local_s3 import LocalS3
from archive.store.s3 import S3ArchiveStore, make_client
from archive.verify import verify_stream
from bots.slack.sandbox import FakeSlackState, SlackSender, envelope, serve_fake_slack

UID = 10001
STREAM = "main"
BUCKET = "chatkeeper-archive"
CHANNEL = "C0CONTAINR"
TEAM = "T0CONTAINR"


class CheckFailed(Exception):
    pass


def say(line: str) -> None:
    print(f"   {line}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secret_file(folder: Path, name: str, value: str) -> Path:
    path = folder / name
    path.write_text(value)
    os.chown(path, UID, UID)
    path.chmod(0o400)
    return path


def fresh_database(admin_dsn: str) -> tuple[str, str]:
    name = f"ck_container_{secrets.token_hex(4)}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_dsn.rpartition("/")
    return name, f"{base}/{name}"


def drop_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_healthz(port: int, container: str, timeout: float = 90.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return dict(json.loads(r.read()))
        except OSError:
            state = podman("inspect", "--format", "{{.State.Running}}", container).strip()
            if state != "true":
                raise CheckFailed("container stopped before /healthz answered") from None
            time.sleep(0.5)
    raise CheckFailed(f"/healthz did not answer within {timeout}s")


def podman(*args: str, check: bool = True) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise CheckFailed(f"podman {args[0]} failed: {done.stderr.strip()[-300:]}")
    return done.stdout


async def deliver(port: int, signing_secret: str) -> int:
    event = {
        "type": "message",
        "channel": CHANNEL,
        "user": "U0CONTAIN1",
        "text": "container check message",
        "ts": f"{time.time():.6f}",
        "channel_type": "channel",
    }
    async with aiohttp.ClientSession() as session:
        sender = SlackSender(session, f"http://127.0.0.1:{port}", signing_secret)
        delivered = await sender.event(envelope(TEAM, event))
        return delivered.status


def run(image: str, work: Path, admin_dsn: str) -> None:
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("home", "keys", "secrets"):
        (work / sub).mkdir(parents=True)
    (work / "home").chmod(0o700)
    os.chown(work / "home", UID, UID)
    signer = load_or_create_signer(work / "keys")
    for path in (work / "keys").iterdir():
        os.chown(path, UID, UID)
    os.chown(work / "keys", UID, UID)
    db_name, dsn = fresh_database(admin_dsn)
    s3 = LocalS3(work / "s3")
    loop = asyncio.new_event_loop()
    fake = None
    container = f"chatkeeper-check-{secrets.token_hex(3)}"
    try:
        endpoint = s3.start()
        s3.ensure_bucket(BUCKET, mode="COMPLIANCE", days=1)
        say(f"embedded S3 on {endpoint.url}, bucket {BUCKET} (Object Lock COMPLIANCE)")
        fake = loop.run_until_complete(serve_fake_slack(FakeSlackState(team=TEAM)))
        say(f"fake Slack Web API on {fake.base_url}; PostgreSQL database {db_name}")
        signing_secret = secrets.token_hex(16)
        sec = work / "secrets"
        secret_file(sec, "slack_signing_secret", signing_secret)
        secret_file(sec, "slack_bot_token", fake.state.token)
        secret_file(sec, "s3_secret_key", endpoint.archiver.secret_key)
        secret_file(sec, "journal_dsn", dsn)
        port = free_port()
        env = {
            "CHATKEEPER_SERVER_HOST": "127.0.0.1",
            "CHATKEEPER_SERVER_PORT": str(port),
            "CHATKEEPER_JOURNAL_DSN_FILE": "/run/secrets/chatkeeper/journal_dsn",
            "CHATKEEPER_S3_ENDPOINT": endpoint.url,
            "CHATKEEPER_S3_BUCKET": BUCKET,
            "CHATKEEPER_S3_ACCESS_KEY": endpoint.archiver.access_key,
            "CHATKEEPER_S3_SECRET_KEY_FILE": "/run/secrets/chatkeeper/s3_secret_key",
            "CHATKEEPER_ARCHIVE_STREAM": STREAM,
            "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "1",
            "CHATKEEPER_ARCHIVE_MIN_RETENTION_DAYS": "1",
            "CHATKEEPER_SCHEDULE_SEAL_INTERVAL_SECONDS": "2",
            "CHATKEEPER_CAPTURE_MODE": "all",
            "CHATKEEPER_SLACK_ENABLED": "true",
            "CHATKEEPER_SLACK_SIGNING_SECRET_FILE": "/run/secrets/chatkeeper/slack_signing_secret",
            "CHATKEEPER_SLACK_BOT_TOKEN_FILE": "/run/secrets/chatkeeper/slack_bot_token",
            "CHATKEEPER_SLACK_API_BASE_URL": fake.api_base_url,
            "CHATKEEPER_SLACK_FILE_HOSTS": "127.0.0.1",
        }
        args = ["run", "-d", "--name", container, "--network=host", "--read-only"]
        args += ["--tmpfs", "/tmp:rw,size=64m,mode=1777", "--cap-drop=all"]  # noqa: S108 (the container's own tmpfs)
        args += ["--security-opt=no-new-privileges", "--memory=512m", "--pids-limit=256"]
        args += ["-v", f"{work / 'home'}:/var/lib/chatkeeper:rw"]
        args += ["-v", f"{work / 'keys'}:/var/lib/chatkeeper/keys:ro"]
        args += ["-v", f"{sec}:/run/secrets/chatkeeper:ro"]
        for name, value in env.items():
            args += ["-e", f"{name}={value}"]
        podman(*args, image)
        user = podman("exec", container, "id", "-u").strip()
        say(f"container {container} runs chatkeeper serve as uid {user}, read-only root")
        if user == "0":
            raise CheckFailed("the container runs as root")
        health = wait_healthz(port, container)
        say(f"/healthz answered {json.dumps(health, sort_keys=True)}")
        time.sleep(1)
        podman("healthcheck", "run", container)
        say("image HEALTHCHECK passed (podman healthcheck run)")
        journal = PostgresJournal(dsn)
        try:
            before = journal.stats(STREAM).records
            status = loop.run_until_complete(deliver(port, signing_secret))
            after = journal.stats(STREAM).records
            if status != 200 or after != before + 1:
                raise CheckFailed(f"signed delivery got {status}, journal {before} -> {after}")
            say(
                f"signed Slack delivery acked 200 after commit; PostgreSQL journal {before} -> {after}"
            )
            bad = loop.run_until_complete(deliver(port, "not-the-secret"))
            if bad != 401:
                raise CheckFailed(f"a delivery with a wrong signature got {bad}, not 401")
            say("a delivery signed with another secret was refused (401)")
            deadline = time.monotonic() + 60
            while (sealed := journal.stats(STREAM).last_sealed) is None or sealed.seq_last < after:
                if time.monotonic() > deadline:
                    raise CheckFailed("no bundle sealed within 60s")
                time.sleep(1)
        finally:
            journal.close()
        say(f"scheduler sealed bundle {sealed.number} (seq {sealed.seq_first}..{sealed.seq_last})")
        auditor = endpoint.auditor
        store = S3ArchiveStore(
            make_client(endpoint.url, auditor.access_key, auditor.secret_key), BUCKET
        )
        report = verify_stream(
            store, Layout(STREAM), {signer.public.key_id: signer.public}, deep=True
        )
        if not report.ok or report.bundles < 1:
            raise CheckFailed(f"verify --deep: {[f.message for f in report.findings]}")
        say(
            f"verify --deep as auditor: INTACT, {report.bundles} bundle(s), {report.records} record(s)"
        )
        podman("stop", "--time", "20", container)
        code = podman("inspect", "--format", "{{.State.ExitCode}}", container).strip()
        say(f"SIGTERM: serve stopped with exit code {code}")
        if code != "0":
            raise CheckFailed(f"serve exited with {code} on SIGTERM")
    finally:
        logs = podman("logs", container, check=False)
        (work / "container.log").write_text(logs)
        podman("rm", "-f", container, check=False)
        if fake is not None:
            loop.run_until_complete(fake.close())
        loop.close()
        s3.stop()
        drop_database(admin_dsn, db_name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    try:
        run(args.image, args.work, os.environ["CHATKEEPER_TEST_PG_DSN"])
    except CheckFailed as exc:
        say(f"FAILED: {exc} (container log: {args.work / 'container.log'})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
