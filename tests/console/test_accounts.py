"""Console accounts: Argon2id hashes, lock-out, sessions stored as hashes, expiry, disabling."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.clock import FixedClock
from archive.errors import AccountError
from console.accounts import AccountStore, SignIn

PASSWORD = "a long enough password"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def accounts(tmp_path: Path, clock: FixedClock) -> AccountStore:
    store = AccountStore(
        tmp_path / "console.db", clock, lockout_failures=3, lockout_minutes=10, idle_minutes=30
    )
    store.add_user("olivia", "officer", PASSWORD)
    return store


def _column(path: Path, sql: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute(sql)]


def test_passwords_are_argon2id_hashes(accounts: AccountStore, tmp_path: Path) -> None:
    """The file holds an Argon2id hash, never the password."""
    (digest,) = _column(tmp_path / "console.db", "SELECT password_hash FROM users")
    assert digest.startswith("$argon2id$")
    assert PASSWORD not in (tmp_path / "console.db").read_bytes().decode("latin-1")
    assert accounts.check_password("olivia", PASSWORD)[0] is SignIn.OK


def test_lockout_after_failures_and_its_end(accounts: AccountStore, clock: FixedClock) -> None:
    """Three wrong passwords lock the account, even against the right one, until the lock runs out."""
    outcomes = [accounts.check_password("olivia", "wrong")[0] for _ in range(3)]
    assert outcomes == [SignIn.WRONG, SignIn.WRONG, SignIn.LOCKED]
    assert accounts.check_password("olivia", PASSWORD)[0] is SignIn.LOCKED
    clock.advance(timedelta(minutes=11))
    assert accounts.check_password("olivia", PASSWORD)[0] is SignIn.OK
    assert accounts.user("olivia").failures == 0


def test_a_success_resets_the_failure_count(accounts: AccountStore) -> None:
    """Failures must be in a row to lock: a good sign-in in between starts the count again."""
    for _ in range(2):
        accounts.check_password("olivia", "wrong")
    assert accounts.check_password("olivia", PASSWORD)[0] is SignIn.OK
    for _ in range(2):
        assert accounts.check_password("olivia", "wrong")[0] is SignIn.WRONG


def test_unknown_names_and_enabling_unlocks(accounts: AccountStore) -> None:
    """An unknown name is refused as such; enabling an account lifts its lock."""
    assert accounts.check_password("nobody", PASSWORD) == (SignIn.UNKNOWN, None)
    for _ in range(3):
        accounts.check_password("olivia", "wrong")
    accounts.set_disabled("olivia", False)
    assert accounts.check_password("olivia", PASSWORD)[0] is SignIn.OK


def test_sessions_are_stored_as_hashes_and_expire(
    accounts: AccountStore, clock: FixedClock, tmp_path: Path
) -> None:
    """The session id is not in the file; an idle session ends after idle_minutes."""
    session_id = accounts.open_session("olivia")
    assert session_id not in _column(tmp_path / "console.db", "SELECT id_sha256 FROM sessions")
    session = accounts.session(session_id)
    assert session is not None and session.user.name == "olivia" and len(session.csrf) > 30
    clock.advance(timedelta(minutes=29))
    assert accounts.session(session_id) is not None
    clock.advance(timedelta(minutes=31))
    assert accounts.session(session_id) is None


def test_disabling_ends_sessions(accounts: AccountStore) -> None:
    """A disabled account's sessions stop working at once, and it cannot sign in."""
    session_id = accounts.open_session("olivia")
    accounts.set_disabled("olivia", True)
    assert accounts.session(session_id) is None
    assert accounts.check_password("olivia", PASSWORD)[0] is SignIn.DISABLED


def test_account_errors(accounts: AccountStore) -> None:
    """Duplicate names, unknown roles and unknown accounts are AccountError (exit 2)."""
    with pytest.raises(AccountError, match="exists"):
        accounts.add_user("olivia", "officer", PASSWORD)
    with pytest.raises(AccountError, match="unknown role"):
        accounts.set_role("olivia", "root")
    with pytest.raises(AccountError, match="no account"):
        accounts.set_disabled("nobody", True)
    assert AccountError.exit_code == 2
