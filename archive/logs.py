"""Structured logs: readable on a terminal, JSON lines otherwise.

Log events are dotted nouns (``bundle.sealed``). Log identifiers and counts,
never message bodies, raw payloads, attachments or tokens.

Every log line goes through one handler on the root logger with structlog's
``ProcessorFormatter``: chatkeeper's own structlog events and the standard
library loggers of the libraries (apscheduler, aiohttp, telegram, slack_bolt,
botocore, ...) alike, so ``log.format = "json"`` covers them all. Libraries that
log request bodies or URLs with tokens at DEBUG are held at INFO or WARNING
whatever ``log.level`` says. As a last line of defence, every value registered
with :func:`register_secrets` is replaced by ``[redacted]`` in every line
(and in the CLI's error line, see :func:`redact`).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("auto", "json", "console")
REDACTED = "[redacted]"
# Floors for library loggers: their DEBUG lines carry request bodies (slack_sdk,
# slack_bolt, botocore), Bot API URLs with the token (httpx) or API results (telegram).
LIBRARY_FLOORS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "slack_sdk": logging.INFO,
    "slack_bolt": logging.INFO,
    "botocore": logging.INFO,
    "boto3": logging.INFO,
    "s3transfer": logging.INFO,
    "urllib3": logging.WARNING,
    "asyncio": logging.WARNING,
}
_MIN_SECRET = 4  # shorter values would mangle ordinary words
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secrets(values: Iterable[str]) -> None:
    """Scrub these values from every log line and CLI error from now on."""
    global _pattern
    added = {v for v in values if len(v) >= _MIN_SECRET}
    if not added - _secrets:
        return
    _secrets.update(added)
    ordered = sorted(_secrets, key=len, reverse=True)
    _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``[redacted]``."""
    return text if _pattern is None else _pattern.sub(REDACTED, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return redact(bytes(value).decode("utf-8", "replace"))
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def redact_event(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """structlog processor: scrub registered secrets from every value of the event."""
    return {k: v if k.startswith("_") else _scrub(v) for k, v in event.items()}


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (click's CliRunner and pytest swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure(level: str = "info", fmt: str = "auto") -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Processor] = [
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_event,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for package in ("archive", "bots", "chatkeeper", "exporters"):
        logging.getLogger(package).setLevel(logging.NOTSET)  # follow the root level
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(numeric, floor))
