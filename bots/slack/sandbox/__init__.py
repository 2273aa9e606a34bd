"""A fake Slack for tests, the demo and benchmarks: Web API, file host, signed deliveries."""

from bots.slack.sandbox.fake_api import (
    FakeFile,
    FakeSlackState,
    RunningFakeSlack,
    serve_fake_slack,
)
from bots.slack.sandbox.sender import Delivered, SlackSender, envelope

__all__ = [
    "Delivered",
    "FakeFile",
    "FakeSlackState",
    "RunningFakeSlack",
    "SlackSender",
    "envelope",
    "serve_fake_slack",
]
