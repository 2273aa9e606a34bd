"""Strict configuration: every bad file, variable or value stops with exit 2 and one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.errors import ConfigError
from chatkeeper.cli import cli
from chatkeeper.settings import load_settings


def _status(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(
        cli, [*args, "status"], env={"CHATKEEPER_HOME": str(tmp_path / "home"), **env}
    )
    return result.exit_code, result.output.strip().splitlines()


def test_config_file_not_utf8_is_exit_2(tmp_path: Path) -> None:
    """A config file in Latin-1 stops with exit 2 and one line saying it is not UTF-8."""
    config = tmp_path / "chatkeeper.toml"
    config.write_bytes('[archive]\nstream = "caf\xe9"\n'.encode("latin-1"))
    code, lines = _status(tmp_path, {}, "--config", str(config))
    assert code == 2
    assert lines == [
        f"chatkeeper: error: config file {config} is not UTF-8 (invalid byte at offset 23)"
    ]


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"CHATKEEPER_S3_ENDPONT": "http://x"},
            "unknown environment variable CHATKEEPER_S3_ENDPONT: no such setting "
            "(did you mean CHATKEEPER_S3_ENDPOINT?)",
        ),
        (
            {"CHATKEEPER_LOG_LEVEL": "verbose"},
            "setting log.level (from CHATKEEPER_LOG_LEVEL): 'verbose' is not "
            "debug, info, warning or error",
        ),
        (
            {"CHATKEEPER_LOG_FORMAT": "xml"},
            "setting log.format (from CHATKEEPER_LOG_FORMAT): 'xml' is not auto, json or console",
        ),
        (
            {"CHATKEEPER_SERVER_PORT": "70000"},
            "setting server.port (from CHATKEEPER_SERVER_PORT): 70000 must be at most 65535",
        ),
        (
            {"CHATKEEPER_S3_READ_TIMEOUT_SECONDS": "0"},
            "setting s3.read_timeout_seconds (from CHATKEEPER_S3_READ_TIMEOUT_SECONDS): "
            "0.0 must be greater than 0",
        ),
    ],
)
def test_bad_environment_is_one_line_exit_2(tmp_path: Path, env: dict[str, str], line: str) -> None:
    """Unknown variables and out-of-range or unknown values name the setting in one line."""
    code, lines = _status(tmp_path, env)
    assert (code, lines) == (2, [f"chatkeeper: error: {line}"])


def test_port_out_of_range_in_toml(tmp_path: Path) -> None:
    """A negative port in the file is refused, naming server.port."""
    config = tmp_path / "c.toml"
    config.write_text("[server]\nport = -1\n")
    with pytest.raises(ConfigError, match=r"^setting server\.port: -1 must be at least 0$"):
        load_settings(config, env={})


def test_valid_variables_are_accepted(tmp_path: Path) -> None:
    """CHATKEEPER_HOME, *_FILE secrets, the test suite's variables and case-free choices load."""
    secret = tmp_path / "token"
    secret.write_text("xoxb-from-file\n")
    settings = load_settings(
        env={
            "CHATKEEPER_HOME": str(tmp_path),
            "CHATKEEPER_SLACK_BOT_TOKEN_FILE": str(secret),
            "CHATKEEPER_TEST_PG_DSN": "postgresql://x",
            "CHATKEEPER_LOG_LEVEL": "DEBUG",
        }
    )
    assert settings.slack.bot_token == "xoxb-from-file" and settings.log.level == "debug"


def test_secret_of_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    """A secret with the wrong type is refused without repeating its value."""
    config = tmp_path / "c.toml"
    config.write_text("[telegram]\ntoken = 123456789\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert "123456789" not in str(caught.value) and "telegram.token" in str(caught.value)


def test_secret_file_not_utf8(tmp_path: Path) -> None:
    """A *_FILE that is not UTF-8 is a one-line ConfigError, not a traceback."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match=r"s3\.secret_key .*the file is not UTF-8"):
        load_settings(env={"CHATKEEPER_S3_SECRET_KEY_FILE": str(secret)})
