"""The Slack downloader for the shared attachment worker (``archive.attachments``).

The bot token is sent only to Slack's own file hosts (``slack.file_hosts``,
https; plain http only to a loopback sandbox), never to an external file's
URL, and redirects are followed by hand under the same rule. Slack Connect
stubs (``file_access: check_file_info``) and ``file_shared`` events, which carry
no URL, are resolved with ``files.info``. A login page instead of bytes means
the token lacks ``files:read``. The file name never touches the filesystem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from archive.attachments import Downloaded, Sink, task_details
from archive.capture import FileFetch
from archive.errors import AttachmentTooLargeError, AttachmentUnavailableError
from archive.journal import FetchTask
from archive.model import Record
from archive.observe import observer

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_GONE = frozenset({"file_not_found", "file_deleted", "not_in_channel", "channel_not_found"})
_CHUNK = 64 * 1024
_MAX_REDIRECTS = 3


def file_task_details(file: Mapping[str, Any], channel: str, team: str) -> str:
    """What the downloader needs later: the download URL when the event carried one (no token)."""
    url = file.get("url_private_download") or file.get("url_private")
    stub = file.get("file_access") == "check_file_info" or not isinstance(url, str)
    size = file.get("size") if isinstance(file.get("size"), int) else None
    return task_details(
        channel=channel,
        team=team,
        url=None if stub else str(url),
        size=size,
        mime=file.get("mimetype"),
    )


def file_fetches(record: Record, event: Mapping[str, Any], queued_at: datetime) -> list[FileFetch]:
    """The fetches for the files of ``record`` not stored yet, with details from ``event``."""
    objects = event_files(event)
    return [
        FileFetch(
            record_key=record.key,
            platform="slack",
            ref=attachment.ref,
            name=attachment.name,
            details=file_task_details(
                objects.get(attachment.ref, {}), record.conversation, record.workspace
            ),
            queued_at=queued_at,
        )
        for attachment in record.attachments
        if attachment.ref and attachment.sha256 is None
    ]


def event_files(event: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """File objects carried by an event (message files, edited message files), by id."""
    found: dict[str, Mapping[str, Any]] = {}
    message = event.get("message")
    candidates = [
        event.get("files"),
        message.get("files") if isinstance(message, Mapping) else None,
    ]
    for files in candidates:
        for item in files if isinstance(files, list) else []:
            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                found[item["id"]] = item
    return found


def repair_task_details(record: Record, ref: str) -> str:
    """Fetch details for file ``ref`` of ``record``, read again from its raw payload.

    The payload is an Events API body, a Socket Mode frame or an export message;
    when none of them holds the file object, the downloader asks ``files.info``.
    """
    try:
        payload = json.loads(record.raw)
    except ValueError:
        payload = None
    return file_task_details(_find_file(payload, ref) or {}, record.conversation, record.workspace)


def _find_file(value: Any, ref: str, depth: int = 0) -> Mapping[str, Any] | None:
    """The file object with id ``ref`` anywhere in a (shallow) Slack payload."""
    if depth > 6:
        return None
    if isinstance(value, Mapping):
        if value.get("id") == ref and ("url_private" in value or "url_private_download" in value):
            return value
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return None
    for child in children:
        found = _find_file(child, ref, depth + 1)
        if found is not None:
            return found
    return None


class SlackFileDownloader:
    """Implements ``archive.attachments.Downloader`` for Slack."""

    def __init__(
        self,
        client: AsyncWebClient,
        token: str,
        hosts: tuple[str, ...],
        timeout_seconds: float = 60.0,
    ) -> None:
        self._client = client
        self._token = token
        self._hosts = frozenset(h.lower() for h in hosts)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    def trusted(self, url: str) -> bool:
        """True only for Slack's own file hosts (the only place the token may go)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host not in self._hosts:
            return False
        return parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)

    async def _file_info(self, file_id: str) -> Mapping[str, Any]:
        try:
            response = await self._client.files_info(file=file_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            raise AttachmentUnavailableError(
                f"files.info: {error}", permanent=error in _GONE
            ) from exc
        except (SlackClientError, OSError, TimeoutError) as exc:
            raise AttachmentUnavailableError(f"files.info: {type(exc).__name__}") from exc
        file = response.get("file")
        if not isinstance(file, Mapping):
            raise AttachmentUnavailableError("files.info: no file object", permanent=True)
        return file

    async def download(self, task: FetchTask, sink: Sink) -> Downloaded:
        details = json.loads(task.details or "{}")
        url, size, mime = details.get("url"), details.get("size"), details.get("mime")
        if not isinstance(url, str):
            file = await self._file_info(task.ref)
            found = file.get("url_private_download") or file.get("url_private")
            if not isinstance(found, str):
                raise AttachmentUnavailableError("file has no download URL", permanent=True)
            url, size, mime = found, file.get("size"), file.get("mimetype")
        if isinstance(size, int) and size > sink.limit:
            raise AttachmentTooLargeError(size, sink.limit)
        return await self._fetch(url, sink, mime if isinstance(mime, str) else None)

    async def _fetch(self, url: str, sink: Sink, mime: str | None) -> Downloaded:
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as session:
                for _ in range(_MAX_REDIRECTS + 1):
                    if not self.trusted(url):
                        raise AttachmentUnavailableError(
                            "file is hosted outside Slack; the token is not sent there",
                            permanent=True,
                        )
                    async with session.get(url, headers=headers, allow_redirects=False) as response:
                        if (
                            response.status in {301, 302, 303, 307, 308}
                            and "Location" in response.headers
                        ):
                            url = urljoin(url, response.headers["Location"])
                            continue
                        return await self._read(response, sink, mime)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AttachmentUnavailableError(f"download failed: {type(exc).__name__}") from exc
        raise AttachmentUnavailableError("too many redirects", permanent=True)

    @staticmethod
    async def _read(response: aiohttp.ClientResponse, sink: Sink, mime: str | None) -> Downloaded:
        if response.status in {404, 410}:
            raise AttachmentUnavailableError(
                f"HTTP {response.status}: file is gone", permanent=True
            )
        if response.status == 429:
            observer().rate_limited("slack", "http_429")
        if response.status == 429 or response.status >= 500:
            raise AttachmentUnavailableError(f"HTTP {response.status} from Slack")
        if response.status != 200:
            raise AttachmentUnavailableError(f"HTTP {response.status} from Slack", permanent=True)
        if response.content_type == "text/html" and mime != "text/html":
            raise AttachmentUnavailableError("Slack answered a login page (is files:read granted?)")
        length = response.content_length
        if length is not None and length > sink.limit:
            raise AttachmentTooLargeError(length, sink.limit)
        async for chunk in response.content.iter_chunked(_CHUNK):
            sink.write(chunk)
        return Downloaded(mime=mime or response.content_type)
