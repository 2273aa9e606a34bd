"""Officer accounts and sessions in the console's own SQLite file.

Passwords are stored as Argon2id hashes (argon2-cffi's defaults, RFC 9106
"second recommended" parameters). A session id is 32 random bytes given to the
browser once; the file keeps only its SHA-256, so a copy of the file opens no
session. Each session carries its own CSRF token. An account is locked for
``lockout_minutes`` after ``lockout_failures`` failed sign-ins in a row.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from archive.clock import Clock
from archive.codec import format_time, parse_time
from archive.errors import AccountError, ChatkeeperError
from console.settings import ROLES

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT,
    oidc_subject TEXT UNIQUE,
    disabled INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
"""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SignIn(StrEnum):
    """The outcome of a password sign-in."""

    OK = "ok"
    WRONG = "wrong_password"
    UNKNOWN = "unknown_user"
    LOCKED = "locked"
    DISABLED = "disabled"
    OIDC_ONLY = "oidc_only"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    disabled: bool
    failures: int
    locked_until: datetime | None
    has_password: bool
    oidc_subject: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf: str
    created_at: datetime


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class AccountStore:
    """Users and sessions; every statement under one lock (SQLite has one writer)."""

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        lockout_failures: int = 5,
        lockout_minutes: int = 15,
        session_minutes: int = 480,
        idle_minutes: int = 30,
    ) -> None:
        self.clock = clock
        self.lockout_failures = lockout_failures
        self.lockout = timedelta(minutes=lockout_minutes)
        self.session_life = timedelta(minutes=session_minutes)
        self.idle = timedelta(minutes=idle_minutes)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.executescript(_SCHEMA)
            path.chmod(0o600)
        except (sqlite3.Error, OSError) as exc:
            raise ChatkeeperError(f"cannot open console accounts {path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ChatkeeperError(f"console accounts statement failed: {exc}") from exc

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._tx() as conn:
            return conn.execute(sql, params).fetchall()

    # -- users ----------------------------------------------------------------------
    def add_user(
        self, name: str, role: str, password: str | None, oidc_subject: str | None = None
    ) -> User:
        """A new account; AccountError if the name is taken or invalid."""
        if not _NAME.fullmatch(name):
            raise AccountError(f"invalid account name {name!r} (letters, digits, . _ @ -)")
        _check_role(role)
        if password is None and oidc_subject is None:
            raise AccountError("an account needs a password or an OpenID Connect subject")
        digest = _hasher.hash(password) if password is not None else None
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise AccountError(f"account {name!r} exists")
            if (
                oidc_subject is not None
                and conn.execute(
                    "SELECT 1 FROM users WHERE oidc_subject = ?", (oidc_subject,)
                ).fetchone()
            ):
                raise AccountError("that OpenID Connect subject already has an account")
            conn.execute(
                "INSERT INTO users (name, role, password_hash, oidc_subject, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, role, digest, oidc_subject, format_time(self.clock.now())),
            )
        return self.user(name)

    def user(self, name: str) -> User:
        rows = self._rows(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,))
        if not rows:
            raise AccountError(f"no account {name!r}")
        return _user(rows[0])

    def users(self) -> list[User]:
        return [_user(r) for r in self._rows(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name")]

    def user_by_subject(self, subject: str) -> User | None:
        rows = self._rows(f"SELECT {_USER_COLUMNS} FROM users WHERE oidc_subject = ?", (subject,))
        return _user(rows[0]) if rows else None

    def set_role(self, name: str, role: str) -> User:
        _check_role(role)
        self._update(name, "role = ?", role)
        return self.user(name)

    def set_disabled(self, name: str, disabled: bool) -> User:
        """Disable (ending its sessions) or enable an account; enabling also unlocks it."""
        if disabled:
            self._update(name, "disabled = 1")
            self._rows("DELETE FROM sessions WHERE user = ?", (name,))
        else:
            self._update(name, "disabled = 0, failures = 0, locked_until = NULL")
        return self.user(name)

    def set_password(self, name: str, password: str) -> User:
        self._update(name, "password_hash = ?", _hasher.hash(password))
        return self.user(name)

    def _update(self, name: str, assignments: str, *values: Any) -> None:
        with self._tx() as conn:
            cursor = conn.execute(f"UPDATE users SET {assignments} WHERE name = ?", (*values, name))
            if cursor.rowcount == 0:
                raise AccountError(f"no account {name!r}")

    # -- sign-in ----------------------------------------------------------------------
    def check_password(self, name: str, password: str) -> tuple[SignIn, User | None]:
        """Verify a password, counting failures and locking the account after too many."""
        now = self.clock.now()
        rows = self._rows(
            f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE name = ?", (name,)
        )
        if not rows:
            _verify(_DUMMY_HASH, password)  # the same work as for a real account
            return SignIn.UNKNOWN, None
        user, digest = _user(rows[0][:-1]), rows[0][-1]
        if user.disabled:
            return SignIn.DISABLED, user
        if user.locked_until is not None and user.locked_until > now:
            return SignIn.LOCKED, user
        if digest is None:
            return SignIn.OIDC_ONLY, user
        if _verify(digest, password):
            with self._tx() as conn:
                conn.execute(
                    "UPDATE users SET failures = 0, locked_until = NULL WHERE name = ?", (name,)
                )
                if _hasher.check_needs_rehash(digest):
                    conn.execute(
                        "UPDATE users SET password_hash = ? WHERE name = ?",
                        (_hasher.hash(password), name),
                    )
            return SignIn.OK, self.user(name)
        return self._failed(user, now)

    def _failed(self, user: User, now: datetime) -> tuple[SignIn, User]:
        failures = user.failures + 1
        if user.locked_until is not None and user.locked_until <= now:
            failures = 1  # the lock has run out: count afresh
        locked = format_time(now + self.lockout) if failures >= self.lockout_failures else None
        self._update(user.name, "failures = ?, locked_until = ?", failures, locked)
        updated = self.user(user.name)
        return (SignIn.LOCKED if locked else SignIn.WRONG), updated

    # -- sessions -------------------------------------------------------------------------
    def open_session(self, name: str) -> str:
        """A new session for ``name``; returns the session id for the cookie (once)."""
        session_id = secrets.token_urlsafe(32)
        now = format_time(self.clock.now())
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO sessions (id_sha256, user, csrf, created_at, seen_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (_sha(session_id), name, secrets.token_urlsafe(32), now, now),
            )
        return session_id

    def session(self, session_id: str) -> Session | None:
        """The live session for this id (and touch it), or None if unknown or expired."""
        now = self.clock.now()
        key = _sha(session_id)
        rows = self._rows(
            "SELECT user, csrf, created_at, seen_at FROM sessions WHERE id_sha256 = ?", (key,)
        )
        if not rows:
            return None
        name, csrf, created_text, seen_text = rows[0]
        created, seen = parse_time(created_text), parse_time(seen_text)
        if now - created > self.session_life or now - seen > self.idle:
            self.close_session(session_id)
            return None
        user = self.user(name)
        if user.disabled:
            self.close_session(session_id)
            return None
        self._rows("UPDATE sessions SET seen_at = ? WHERE id_sha256 = ?", (format_time(now), key))
        return Session(user, csrf, created)

    def close_session(self, session_id: str) -> None:
        self._rows("DELETE FROM sessions WHERE id_sha256 = ?", (_sha(session_id),))


_USER_COLUMNS = (
    "name, role, disabled, failures, locked_until, password_hash IS NOT NULL, oidc_subject"
)


def _user(row: Sequence[Any]) -> User:
    name, role, disabled, failures, locked, has_password, subject = row
    return User(
        name=name,
        role=role,
        disabled=bool(disabled),
        failures=int(failures),
        locked_until=parse_time(locked) if locked else None,
        has_password=bool(has_password),
        oidc_subject=subject,
    )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r} (officer or admin)")


def _verify(digest: str, password: str) -> bool:
    try:
        return _hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False
