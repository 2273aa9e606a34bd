"""``chatkeeper review``: screen sealed bundles, work the review queue, report.

Logic lives in ``supervision/``; this module only turns words into calls. ``review show``
prints the message under review and its context (that is its purpose, as an export writes
messages); no other command and no log line prints message text.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from archive.clock import SystemClock
from archive.errors import ConfigError
from chatkeeper import build
from chatkeeper.commands.group import cli, settings_of
from chatkeeper.durations import parse_age
from chatkeeper.screening import open_queue, policies, screening_keys
from chatkeeper.settings import Settings
from supervision.decisions import CLEARED, DECISIONS, record_decisions
from supervision.queue import QueueStore
from supervision.report import build_report, write_csv, write_reviewers_csv
from supervision.review import STATUSES, ItemFilter, get_item, highlight_spans, list_items
from supervision.runner import screen_sealed
from supervision.screen import Screener


def _reviewer(settings: Settings, given: str | None) -> str:
    if given:
        return given
    if settings.supervision.reviewer:
        return settings.supervision.reviewer
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _screen(settings: Settings, queue: QueueStore) -> str:
    found = policies(settings)
    if not found:
        raise ConfigError("no supervision policy: set supervision.policy_files (see docs)")
    with build.open_store(settings, role="auditor") as store:
        report = screen_sealed(
            store,
            build.layout(settings),
            screening_keys(settings, store),
            queue,
            Screener(found),
            context_messages=settings.supervision.context_messages,
        )
    if not report.bundles:
        return "nothing new to screen"
    return (
        f"screened bundles {report.bundles[0]}..{report.bundles[-1]}: {report.records} records, "
        f"{report.in_scope} in scope (per policy), {report.items} new items, "
        f"{report.decisions} sealed decisions"
    )


@cli.group("review")
def review_group() -> None:
    """Supervision: screen sealed messages, review the queue, decide, report."""


@review_group.command("screen")
@click.pass_context
def screen_command(ctx: click.Context) -> None:
    """Screen every sealed bundle not screened yet (verified on read) into the queue."""
    settings = settings_of(ctx)
    with open_queue(settings) as queue:
        click.echo(_screen(settings, queue))


@review_group.command("rebuild")
@click.pass_context
def rebuild_command(ctx: click.Context) -> None:
    """Forget the derived queue and screen the whole archive again (decisions come back)."""
    settings = settings_of(ctx)
    with open_queue(settings) as queue:
        queue.reset()
        click.echo(_screen(settings, queue))


def _filters(f: Any) -> Any:
    f = click.option("--policy", help="Only this policy.")(f)
    f = click.option("--conversation", help="Only this channel/chat id.")(f)
    f = click.option("--participant", help="Only messages by this user id or name.")(f)
    f = click.option("--older-than", help="Only items queued at least this long ago (2h, 3d).")(f)
    f = click.option("--rule", help="Only items with a hit of this lexicon rule id.")(f)
    f = click.option(
        "--queued-for",
        "reason",
        type=click.Choice(["flagged", "always", "sampled"]),
        help="Only items queued as flagged, always-review or sampled.",
    )(f)
    f = click.option("--assignee", help="Only items assigned to this reviewer ('' = nobody).")(f)
    return f


def _item_filter(status: str, limit: int, **words: Any) -> ItemFilter:
    age = words.pop("older_than")
    return ItemFilter(
        status=status,
        limit=limit,
        older_than=parse_age(age, "--older-than") if age else None,
        **{k: v for k, v in words.items() if v is not None},
    )


@review_group.command("list")
@_filters
@click.option("--status", type=click.Choice(STATUSES), default="open", show_default=True)
@click.option("--limit", type=int, default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_context
def list_command(
    ctx: click.Context, /, status: str, limit: int, as_json: bool, **words: Any
) -> None:
    """List review items, oldest first (no message text: see review show)."""
    settings = settings_of(ctx)
    now = datetime.now(UTC)
    with open_queue(settings) as queue:
        items = list_items(queue, _item_filter(status, limit, **words), now)
    for item in items:
        rules = sorted({h["rule"] for h in item["hits"]})
        if as_json:
            shown = {k: v for k, v in item.items() if k not in _TEXT_FIELDS}
            shown["hits"] = [{k: v for k, v in h.items() if k != "matched"} for h in item["hits"]]
            click.echo(json.dumps(shown | {"rules": rules}, ensure_ascii=False))
            continue
        click.echo(
            f"{item['id']}  {item['policy']}  {item['reason']:<7}  {item['occurred_at'][:16]}  "
            f"{item['conversation_name'] or item['conversation']}  "
            f"{item['actor_name'] or item['actor_id'] or '-'}  {','.join(rules) or '-'}  "
            f"{item['decision'] or 'open'}  {item['assignee'] or ''}".rstrip()
        )
    if not as_json:
        click.echo(f"{len(items)} item(s)")


_TEXT_FIELDS = ("text", "context_before", "context_after")


def _marked(text: str, hits: list[dict[str, Any]]) -> str:
    return "".join(f"[[{p}]]" if hit else p for p, hit in highlight_spans(text, hits))


@review_group.command("show")
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print the item as JSON.")
@click.pass_context
def show_command(ctx: click.Context, item_id: str, as_json: bool) -> None:
    """Show one item: the message with its hits marked [[like this]], context, decisions."""
    settings = settings_of(ctx)
    with open_queue(settings) as queue:
        item = get_item(queue, item_id)
    if as_json:
        click.echo(json.dumps(item, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"item {item['id']}: {item['reason']} by policy {item['policy']} "
        f"v{item['policy_version']} (hash {item['policy_hash'][:16]})"
    )
    click.echo(
        f"record {item['record_key']} ({item['kind']}), bundle {item['bundle']}, "
        f"{item['platform']} {item['conversation_name'] or item['conversation']}"
    )
    for hit in item["hits"]:
        click.echo(f"  hit {hit['lexicon']}/{hit['rule']} at {hit['start']}..{hit['end']}")
    for message in item["context_before"]:
        click.echo(f"    {message['occurred_at'][:19]} {message['actor']}: {message['text']}")
    click.echo(
        f"  > {item['occurred_at'][:19]} {item['actor_name'] or item['actor_id']}: "
        f"{_marked(item['text'] or '', item['hits'])}"
    )
    for message in item["context_after"]:
        click.echo(f"    {message['occurred_at'][:19]} {message['actor']}: {message['text']}")
    for d in item["decisions"]:
        what = d["decision"] if d["action"] == "decide" else f"assigned to {d['assignee']}"
        sealed = f"sealed in bundle {d['bundle']}" if d["bundle"] else "not sealed yet"
        click.echo(f"  {d['decided_at'][:19]} {d['reviewer']}: {what} ({sealed}) {d['comment']}")
    click.echo(f"status: {item['decision'] or 'open'}; assigned to {item['assignee'] or 'nobody'}")


def _decide(
    settings: Settings, items: list[dict[str, Any]], reviewer: str | None, **what: Any
) -> int:
    with build.open_journal(settings) as journal, open_queue(settings) as queue:
        rows = record_decisions(
            journal,
            queue,
            settings.archive.stream,
            items,
            reviewer=_reviewer(settings, reviewer),
            clock=SystemClock(),
            **what,
        )
    return len(rows)


def _items(settings: Settings, ids: tuple[str, ...]) -> list[dict[str, Any]]:
    with open_queue(settings) as queue:
        return [get_item(queue, i) for i in dict.fromkeys(ids)]


@review_group.command("decide")
@click.argument("item_ids", nargs=-1, required=True)
@click.option("--decision", type=click.Choice(DECISIONS), required=True)
@click.option("--comment", required=True, help="Why (sealed with the decision).")
@click.option("--reviewer", help="Who decides (default supervision.reviewer or the OS user).")
@click.pass_context
def decide_command(
    ctx: click.Context,
    item_ids: tuple[str, ...],
    decision: str,
    comment: str,
    reviewer: str | None,
) -> None:
    """Decide items: a review_decision record each, captured and then sealed."""
    settings = settings_of(ctx)
    n = _decide(settings, _items(settings, item_ids), reviewer, decision=decision, comment=comment)
    click.echo(f"recorded {n} decision(s): {decision}; they are sealed with the next seal")


@review_group.command("assign")
@click.argument("item_ids", nargs=-1, required=True)
@click.option("--to", "assignee", required=True, help="Reviewer to assign ('' to unassign).")
@click.option("--comment", default="", help="Why (sealed with the assignment).")
@click.option("--reviewer", help="Who assigns (default supervision.reviewer or the OS user).")
@click.pass_context
def assign_command(
    ctx: click.Context,
    item_ids: tuple[str, ...],
    assignee: str,
    comment: str,
    reviewer: str | None,
) -> None:
    """Assign or reassign items to a reviewer (recorded and sealed like a decision)."""
    settings = settings_of(ctx)
    n = _decide(settings, _items(settings, item_ids), reviewer, assignee=assignee, comment=comment)
    click.echo(f"assigned {n} item(s) to {assignee or 'nobody'}")


@review_group.command("clear")
@_filters
@click.option("--reason", "why", required=True, help="Why these are false positives (sealed).")
@click.option("--reviewer", help="Who clears (default supervision.reviewer or the OS user).")
@click.option("--dry-run", is_flag=True, help="Only count the open items that would be cleared.")
@click.pass_context
def clear_command(
    ctx: click.Context, /, why: str, reviewer: str | None, dry_run: bool, **words: Any
) -> None:
    """Bulk-clear open items matching the filters (needs --policy or --rule) with a reason."""
    settings = settings_of(ctx)
    if not words.get("policy") and not words.get("rule"):
        raise ConfigError("review clear needs --policy or --rule, so it never clears everything")
    with open_queue(settings) as queue:
        items = list_items(queue, _item_filter("open", 1_000_000, **words), datetime.now(UTC))
    if dry_run or not items:
        click.echo(f"{len(items)} open item(s) match")
        return
    n = _decide(settings, items, reviewer, decision=CLEARED, comment=why)
    click.echo(f"cleared {n} item(s); the decisions are sealed with the next seal")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: give a date as YYYY-MM-DD") from exc


@review_group.command("report")
@click.option("--from", "start", required=True, help="First message date (YYYY-MM-DD, UTC).")
@click.option("--to", "end", required=True, help="Last message date, inclusive.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the per-policy table as CSV.",
)
@click.option(
    "--reviewers-csv",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write decisions by policy and reviewer as CSV.",
)
@click.pass_context
def report_command(
    ctx: click.Context, start: str, end: str, csv_path: Path | None, reviewers_csv: Path | None
) -> None:
    """Per policy: in scope, flagged, sampled, reviewed, time to review, backlog, decisions."""
    settings = settings_of(ctx)
    first, last = _day(start, "--from"), _day(end, "--to")
    if last < first:
        raise ConfigError("--to is before --from")
    with open_queue(settings) as queue:
        reports = build_report(queue, first, last, datetime.now(UTC))
    if csv_path:
        write_csv(reports, csv_path)
    if reviewers_csv:
        write_reviewers_csv(reports, reviewers_csv)
    for report in reports:
        click.echo(f"policy {report.policy}")
        for key, value in report.row().items():
            if key != "policy":
                click.echo(f"  {key}: {value}")
        for reviewer in sorted(report.reviewers):
            counts = ", ".join(f"{k} {v}" for k, v in sorted(report.reviewers[reviewer].items()))
            click.echo(f"  reviewer {reviewer}: {counts}")
    if not reports:
        click.echo("no screened messages in that period")


@review_group.command("policies")
@click.pass_context
def policies_command(ctx: click.Context) -> None:
    """The policies in force: name, version, hash, lexicons, sampling, always-review."""
    settings = settings_of(ctx)
    for p in policies(settings):
        click.echo(f"{p.name} v{p.version} hash {p.hash}")
        click.echo(f"  lexicons: {', '.join(p.lexicons) or '-'}; rules: {len(p.rules)}")
        click.echo(f"  sampling: {p.sample_rate:g} of unflagged in-scope messages")
        if p.review_within_days:
            click.echo(f"  review within: {p.review_within_days:g} days")
