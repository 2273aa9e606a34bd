"""Logging: library loggers come out in the structured format, and secrets are scrubbed."""

from __future__ import annotations

import json
import logging
import threading

import pytest
import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from archive.logs import configure, register_secrets


def _json_lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_apscheduler_skipped_run_warning_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    """A real APScheduler 'skipped: maximum number of running instances' warning is a JSON line."""
    configure("info", "json")
    release = threading.Event()
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(release.wait, "interval", seconds=0.05, max_instances=1, id="blocked")
    scheduler.start()
    lines: list[dict[str, object]] = []
    try:
        for _ in range(400):
            release.wait(0.05)
            lines += _json_lines(capsys.readouterr().err)
            if any("skipped" in str(line.get("event")) for line in lines):
                break
    finally:
        release.set()
        scheduler.shutdown(wait=True)
    skipped = [line for line in lines if "skipped" in str(line.get("event"))]
    assert skipped, lines
    assert skipped[0]["level"] == "warning"
    assert str(skipped[0]["logger"]).startswith("apscheduler")
    assert "timestamp" in skipped[0]


def test_registered_secrets_are_scrubbed_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    """A registered secret is redacted from structlog events, library lines and tracebacks."""
    secret = "xoxb-scrub-me-0123456789"
    register_secrets([secret])
    configure("debug", "json")
    structlog.get_logger("chatkeeper.test").info("test.event", url=f"https://x/{secret}/y")
    logging.getLogger("aiohttp.client").warning("calling %s", secret)
    try:
        raise RuntimeError(f"token {secret} refused")
    except RuntimeError:
        logging.getLogger("apscheduler.executors").exception("job failed")
    err = capsys.readouterr().err
    assert secret not in err
    assert err.count("[redacted]") >= 3
    assert len(_json_lines(err)) == 3


def test_library_debug_lines_stay_out(capsys: pytest.CaptureFixture[str]) -> None:
    """At log.level debug, slack_sdk and botocore debug lines (request bodies) are not written."""
    configure("debug", "json")
    logging.getLogger("slack_sdk.web.async_base_client").debug("body_params: {'text': 'hi'}")
    logging.getLogger("botocore.endpoint").debug("Making request with body")
    logging.getLogger("chatkeeper.other").debug("kept")
    events = [line["event"] for line in _json_lines(capsys.readouterr().err)]
    assert events == ["kept"]
