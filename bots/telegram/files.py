"""Telegram media: fetch tasks for captured messages, and the downloader the worker calls.

Each file of a captured message (largest photo size, document, voice, audio,
video, video note, animation, sticker) becomes a fetch task keyed by its
``file_unique_id``; the shared worker (:mod:`archive.attachments`) stores it as
a content-addressed, Object-Locked blob. The cloud Bot API serves files up to
20 MB: bigger ones are settled as ``too_large`` unless a local Bot API server
(``telegram.local_mode``) is configured. python-telegram-bot puts the bot token
into ``File.file_path``; that URL is only ever handed to the HTTP client, never
logged, stored or put into an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from telegram import Bot
from telegram.error import BadRequest, InvalidToken, TelegramError

from archive.attachments import Downloaded, Sink, task_details
from archive.capture import FileFetch
from archive.errors import (
    AttachmentTooLargeError,
    AttachmentUnavailableError,
    ChatkeeperError,
    ConfigError,
)
from archive.journal import FetchTask
from archive.model import AttachmentState, Record
from bots.telegram.payload import file_name, media_files
from bots.telegram.settings import TelegramSettings

CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024
_CHUNK = 256 * 1024


def message_of(update: dict[str, Any]) -> dict[str, Any] | None:
    """The message object of an update (message, edited_message, channel_post, ...)."""
    for value in update.values():
        if isinstance(value, dict) and "message_id" in value and "chat" in value:
            return value
    return None


def file_fetches(
    records: Sequence[Record], updates: Sequence[dict[str, Any]], queued_at: datetime
) -> list[FileFetch]:
    """The fetches for each pending attachment of ``records``, read from their ``updates``."""
    by_update = {u.get("update_id"): u for u in updates}
    fetches: list[FileFetch] = []
    for record in records:
        if not any(a.state is AttachmentState.PENDING for a in record.attachments):
            continue
        message = message_of(by_update.get(record.details.get("update_id"), {}))
        if message is None:
            continue
        for media, item in media_files(message):
            fetches.append(
                FileFetch(
                    record_key=record.key,
                    platform="telegram",
                    ref=str(item.get("file_unique_id")),
                    name=file_name(media, item),
                    details=_details(media, item),
                    queued_at=queued_at,
                )
            )
    return fetches


def _details(media: str, item: Mapping[str, Any]) -> str:
    return task_details(
        file_id=item.get("file_id"),
        media=media,
        size=item.get("file_size"),
        mime=item.get("mime_type"),
    )


def repair_task_details(record: Record, ref: str) -> str | None:
    """Fetch details for file ``ref`` of ``record``, read again from its raw update."""
    try:
        update = json.loads(record.raw)
    except ValueError:
        return None
    message = message_of(update) if isinstance(update, dict) else None
    for media, item in media_files(message or {}):
        if str(item.get("file_unique_id")) == ref:
            return _details(media, item)
    return None


@contextlib.asynccontextmanager
async def standalone_downloader(settings: TelegramSettings) -> AsyncIterator[TelegramDownloader]:
    """A downloader on a bare Bot, outside the running bot (``attachments repair``)."""
    bot = Bot(
        settings.token,
        base_url=settings.base_url,
        base_file_url=settings.base_file_url,
        local_mode=settings.local_mode,
    )
    try:
        await bot.initialize()
    except InvalidToken:
        raise ConfigError("telegram.token was refused by the Bot API") from None
    except TelegramError as exc:  # the message may name the URL: only the type is kept
        raise ChatkeeperError(
            f"the Telegram Bot API cannot be reached: {type(exc).__name__}"
        ) from None
    try:
        yield TelegramDownloader(bot, local_mode=settings.local_mode)
    finally:
        await bot.shutdown()


class TelegramDownloader:
    """Streams a file through ``getFile`` and the file endpoint into the worker's sink."""

    def __init__(self, bot: Bot, *, local_mode: bool, timeout_seconds: float = 60.0) -> None:
        self.bot = bot
        self.local_mode = local_mode
        self.limit = None if local_mode else CLOUD_DOWNLOAD_LIMIT
        self._timeout = timeout_seconds

    async def download(self, task: FetchTask, sink: Sink) -> Downloaded:
        details = json.loads(task.details)
        size = details.get("size")
        if self.limit is not None and isinstance(size, int) and size > self.limit:
            raise AttachmentTooLargeError(size, self.limit)
        try:
            file = await self.bot.get_file(details["file_id"])
        except BadRequest as exc:
            if "too big" in exc.message.lower() and self.limit is not None:
                raise AttachmentTooLargeError(size, self.limit) from None
            raise AttachmentUnavailableError(
                f"getFile refused: {exc.message[:120]}", permanent=True
            ) from None
        except TelegramError as exc:
            raise AttachmentUnavailableError(f"getFile failed: {type(exc).__name__}") from None
        if not file.file_path:
            raise AttachmentUnavailableError("getFile returned no file_path", permanent=True)
        mime = details.get("mime")
        local = Path(file.file_path)
        if self.local_mode and local.is_absolute() and local.is_file():
            await asyncio.to_thread(_copy_local, local, sink)
            return Downloaded(mime=mime)
        url = file.file_path
        if not url.startswith(self.bot.base_file_url):
            url = f"{self.bot.base_file_url}/{file.file_path.lstrip('/')}"
        served = await self._stream(url, sink)  # always download: the mime type is no substitute
        return Downloaded(mime=mime or served)

    async def _stream(self, url: str, sink: Sink) -> str | None:
        """GET ``url`` (token-bearing: never logged) into ``sink``; returns the content type."""
        try:
            async with (
                httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise AttachmentUnavailableError(
                        f"file download answered HTTP {response.status_code}",
                        permanent=response.status_code in {400, 404},
                    )
                async for chunk in response.aiter_bytes(_CHUNK):
                    sink.write(chunk)
                content_type: str | None = response.headers.get("content-type")
                return content_type
        except httpx.HTTPError as exc:
            raise AttachmentUnavailableError(
                f"file download failed: {type(exc).__name__}"
            ) from None


def _copy_local(path: Path, sink: Sink) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sink.write(chunk)
