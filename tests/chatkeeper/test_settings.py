"""Settings: TOML, environment, secrets from files, clear errors, and documented everywhere."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from archive.config import env_var
from archive.errors import ConfigError
from chatkeeper.settings import load_settings, section_types

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    """Each setting and its environment variable appear in docs/configuration.md."""
    text = DOCS.read_text(encoding="utf-8")
    missing = [
        f"{section}.{f.name}"
        for section, kind in section_types().items()
        for f in dataclasses.fields(kind)
        if f"`{section}.{f.name}`" not in text or env_var(section, f.name) not in text
    ]
    assert missing == []


def test_toml_then_env_then_file(tmp_path: Path) -> None:
    """Environment beats TOML, and *_FILE beats both for secrets."""
    config = tmp_path / "chatkeeper.toml"
    config.write_text(
        '[archive]\nstream = "desk"\nretention_days = 3000\n[s3]\nsecret_key = "toml"\n'
    )
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    settings = load_settings(
        config,
        env={
            "CHATKEEPER_ARCHIVE_RETENTION_DAYS": "2600",
            "CHATKEEPER_S3_SECRET_KEY_FILE": str(secret),
            "CHATKEEPER_CAPTURE_ADMIN_USER_IDS": "U1, U2",
        },
    )
    assert settings.archive.stream == "desk"
    assert settings.archive.retention_days == 2600
    assert settings.s3.secret_key == "from-file"
    assert settings.capture.admin_user_ids == ("U1", "U2")


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("[archive\nstream=", {}, "not valid TOML"),
        ("[archive]\nstreem = 'x'\n", {}, "unknown setting"),
        ("[nope]\na = 1\n", {}, "unknown section"),
        ("", {"CHATKEEPER_ARCHIVE_RETENTION_DAYS": "seven"}, "not a valid int"),
        ("", {"CHATKEEPER_ARCHIVE_RETENTION_DAYS": "30"}, "below"),
        ("", {"CHATKEEPER_ARCHIVE_RETENTION_MODE": "NONE"}, "COMPLIANCE or GOVERNANCE"),
        ("", {"CHATKEEPER_CAPTURE_MODE": "some"}, "opt_in"),
    ],
)
def test_bad_config_is_a_clear_error(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    """A corrupt or wrong config fails with a ConfigError naming the problem."""
    config = tmp_path / "c.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, env=env)


def test_missing_explicit_config(tmp_path: Path) -> None:
    """An explicitly named config file that does not exist is an error, not a silent default."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml", env={})
