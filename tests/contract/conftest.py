"""Contract suites take ``journal`` from every adapter in turn."""

from tests.contract.journals import journal, pg_dsn

__all__ = ["journal", "pg_dsn"]
