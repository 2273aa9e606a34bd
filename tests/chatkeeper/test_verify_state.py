"""`chatkeeper verify` leaves its last result in the state directory; /metrics publishes it."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web
from click.testing import CliRunner

from archive.journal.sqlite import SqliteJournal
from chatkeeper.cli import cli
from chatkeeper.server import build_app
from chatkeeper.verify_state import read_verify_state
from tests.chatkeeper.test_cli_verify import _fingerprint, _officer, _sealed
from tests.chatkeeper.test_metrics import Samples, parse


async def _scrape(journal: SqliteJournal, home: Path) -> Samples:
    runner = web.AppRunner(build_app(journal, "test", None, [], home=home))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return parse(await response.text())
    finally:
        await runner.cleanup()


async def test_verify_result_reaches_metrics_and_a_failure_keeps_the_last_success(
    env: dict[str, str], tmp_path: Path, journal: SqliteJournal
) -> None:
    """An intact verify publishes 1 and its time; a later failing one publishes 0, keeps the success."""
    _sealed(env)
    officer = _officer(env, tmp_path)
    home = Path(officer["CHATKEEPER_HOME"])
    assert "chatkeeper_verify_last_result" not in {n for n, _ in await _scrape(journal, home)}
    pinned = CliRunner().invoke(
        cli, ["verify", "--key-fingerprint", _fingerprint(env)], env=officer
    )
    assert pinned.exit_code == 0, pinned.output
    samples = await _scrape(journal, home)
    assert samples[("chatkeeper_verify_last_result", ())] == 1.0
    success = samples[("chatkeeper_verify_last_success_timestamp_seconds", ())]
    assert success == samples[("chatkeeper_verify_last_run_timestamp_seconds", ())] > 0
    unpinned = CliRunner().invoke(cli, ["verify"], env=officer)  # no trust anchor: not intact
    assert unpinned.exit_code == 3, unpinned.output
    samples = await _scrape(journal, home)
    assert samples[("chatkeeper_verify_last_result", ())] == 0.0
    assert samples[("chatkeeper_verify_last_success_timestamp_seconds", ())] == success
    state = read_verify_state(home)
    assert state is not None and not state.ok and state.last_success is not None
