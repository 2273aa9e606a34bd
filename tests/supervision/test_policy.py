"""Policies: parsing, scope, the policy hash, and deterministic sampling."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from archive.errors import ConfigError
from archive.model import Actor, Kind
from supervision.policy import load_policies
from supervision.screen import ALWAYS, FLAGGED, SAMPLED, Screener, sampled
from tests.factories import slack_message

POLICY = """
[[policy]]
name = "retail"
version = "3"
lexicons = ["off_channel", "promissory"]
review_within_days = 2
[policy.scope]
platforms = ["slack"]
kinds = ["message", "delete"]
[policy.sampling]
rate = 0.1
seed = "2026-Q4"
[policy.always_review]
participants = ["U0000007"]
[[policy.rule]]
id = "project"
terms = ["project falcon"]
"""


def _policies(tmp_path: Path, text: str = POLICY) -> Path:
    path = tmp_path / "policies.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_policy_file_parses_with_packs_and_inline_rules(tmp_path: Path) -> None:
    """A policy names shipped packs and inline rules; its hits name the lexicon and rule."""
    (policy,) = load_policies([_policies(tmp_path)])
    assert (policy.name, policy.version, policy.sample_rate) == ("retail", "3", 0.1)
    assert policy.lexicons == ("off_channel", "promissory")
    screener = Screener([policy])
    (outcome,) = screener.screen(slack_message(1, text="Project Falcon on WhatsApp?"))
    assert outcome.reason == FLAGGED
    assert [(h.lexicon, h.rule) for h in outcome.hits] == [
        ("retail.inline", "project"),
        ("off_channel", "whatsapp"),
    ]


def test_scope_and_deleted_text(tmp_path: Path) -> None:
    """Out-of-scope kinds are not screened; a delete is screened on its deleted text."""
    screener = Screener(load_policies([_policies(tmp_path)]))
    assert screener.screen(slack_message(1, text="on whatsapp", kind=Kind.EDIT)) == []
    deleted = replace(
        slack_message(2, text="", kind=Kind.DELETE), text=None, previous_text="use Signal app"
    )
    (outcome,) = screener.screen(deleted)
    assert outcome.reason == FLAGGED and outcome.hits[0].matched == "Signal app"


def test_always_review_participant(tmp_path: Path) -> None:
    """Every message of an always-review participant is queued, hit or not."""
    screener = Screener(load_policies([_policies(tmp_path)]))
    message = replace(slack_message(3, text="lunch?"), actor=Actor(id="U0000007"))
    assert [o.reason for o in screener.screen(message)] == [ALWAYS]


def test_hash_covers_policy_and_pack_text(tmp_path: Path) -> None:
    """The hash changes with the policy table and with any pack text it uses."""
    (base,) = load_policies([_policies(tmp_path)])
    (again,) = load_policies([_policies(tmp_path)])
    assert base.hash == again.hash == hashlib.sha256(base.document).hexdigest()
    (reworded,) = load_policies([_policies(tmp_path, POLICY.replace("0.1", "0.2"))])
    assert reworded.hash != base.hash
    pack = tmp_path / "mine.toml"
    pack.write_text('[pack]\nname = "mine"\n[[rule]]\nid = "a"\nterms = ["alpha"]\n')
    with_pack = POLICY.replace('"promissory"]', '"promissory", "mine.toml"]')
    (first,) = load_policies([_policies(tmp_path, with_pack)])
    pack.write_text('[pack]\nname = "mine"\n[[rule]]\nid = "a"\nterms = ["alphas"]\n')
    (second,) = load_policies([_policies(tmp_path, with_pack)])
    assert len({base.hash, first.hash, second.hash}) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('name = "retail"', 'name = "bad name"'), "policy name"),
        (("rate = 0.1", "rate = 1.5"), "between 0 and 1"),
        (('seed = "2026-Q4"', 'seed = ""'), "seed"),
        (('"promissory"]', '"no_such_pack"]'), "neither a shipped pack"),
        (('kinds = ["message", "delete"]', 'kinds = ["mesage"]'), "unknown kind"),
        (("review_within_days = 2", "review_within = 2"), "unknown key"),
    ],
)
def test_bad_policies_are_config_errors(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    """A malformed policy file is refused with one ConfigError saying what is wrong."""
    with pytest.raises(ConfigError, match=message):
        load_policies([_policies(tmp_path, POLICY.replace(*change))])


def test_sampling_is_reproduced_from_the_seed_alone(tmp_path: Path) -> None:
    """An auditor re-derives exactly the sampled messages from seed, key and rate."""
    screener = Screener(load_policies([_policies(tmp_path)]))
    messages = [slack_message(n, text=f"routine update {n}") for n in range(2000)]
    chosen = {m.key for m in messages if screener.screen(m)[0].reason == SAMPLED}

    def auditor(key: str) -> bool:  # the rule as docs/supervision.md states it
        digest = hashlib.sha256(f"2026-Q4:{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") < 0.1 * 2**64

    not_always = [m for m in messages if m.actor is None or m.actor.id != "U0000007"]
    assert chosen == {m.key for m in not_always if auditor(m.key)}
    assert 150 < len(chosen) < 250  # about 10% of 2000
    assert chosen != {m.key for m in messages if sampled("other-seed", m.key, 0.1)}
