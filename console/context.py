"""The parts every page handler uses, held by the application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from archive.clock import Clock
from archive.keys import Signer
from console.accounts import AccountStore
from console.archive_view import ArchiveView
from console.audit import AuditTrail
from console.oidc import OidcClient
from console.settings import ConsoleSettings
from exporters.source import BundleSource
from search.port import Hit, IndexedBundle, SearchIndex
from supervision.queue import QueueStore

MatchingFactory = Callable[[BundleSource, list[Hit], list[IndexedBundle]], BundleSource]


@dataclass
class Console:
    """Everything a page handler needs."""

    settings: ConsoleSettings
    accounts: AccountStore
    view: ArchiveView
    audit: AuditTrail
    clock: Clock
    #: Signs each export's custody manifest (the deployment's export key, never the archive's).
    export_signer: Signer
    oidc: OidcClient | None = None
    generator: str = "chatkeeper"
    version: str = "0"
    search: SearchIndex | None = None  # None: no search page
    search_backend: str = "sqlite"
    #: Narrows a bundle source to the records of search hits (chatkeeper.search_export).
    matching: MatchingFactory | None = None
    temp_dir: Path | None = None
    #: The supervision review queue (chatkeeper.screening.open_queue); None: no review pages.
    queue: QueueStore | None = None


CONSOLE_KEY = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


def client_of(request: web.Request) -> str | None:
    """The client's address, for the audit record."""
    return request.remote
