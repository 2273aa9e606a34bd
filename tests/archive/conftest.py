"""Archive tests share the PostgreSQL schema fixture of the contract suites."""

from tests.contract.journals import pg_dsn

__all__ = ["pg_dsn"]
