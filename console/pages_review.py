"""The review pages: reviewers work the supervision queue (issue 13) in the console.

The queue with filters (policy, conversation, participant, age, status, assignee, queued
for, rule) and pages; one item with its hits marked in the message (``<mark>``, every piece
autoescaped) within its conversation context and its decision history; POST forms to
decide (with a comment), assign, and bulk-clear the selected items (with a reason); a report
per policy and period. Each decision and assignment goes through
``supervision.decisions.record_decisions`` (a ``review_decision`` record in the journal,
sealed like a message: it is the evidence), and each view and decision is also an
``officer_action``. Officers and admins may review.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, date, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from archive.errors import ChatkeeperError, ConfigError
from console.context import Console, client_of, console_of
from console.pages_archive import failure_page
from console.web_security import require_session
from supervision.decisions import CLEARED, DECISIONS, record_decisions
from supervision.queue import QueueStore
from supervision.report import PolicyReport, build_report
from supervision.review import (
    STATUSES,
    ItemFilter,
    count_items,
    get_item,
    highlight_spans,
    list_items,
)

#: Filter fields of the queue page (query string) and what they become in ``ItemFilter``.
FILTERS = (
    "policy",
    "conversation",
    "participant",
    "older_than",
    "status",
    "assignee",
    "queued_for",
    "rule",
)
REASONS = ("flagged", "always", "sampled")
_AGE_UNITS = {"m": 60, "h": 3600, "d": 86400}
MAX_BULK = 500


def parse_age(text: str) -> timedelta:
    """``90m``, ``2h``, ``3d`` (a bare number is days); ConfigError otherwise."""
    text = text.strip().lower()
    number, unit = (text[:-1], text[-1]) if text[-1:] in _AGE_UNITS else (text, "d")
    try:
        seconds = float(number) * _AGE_UNITS[unit]
    except ValueError:
        seconds = -1.0
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"age {text!r}: give a duration such as 90m, 2h or 3d")
    return timedelta(seconds=seconds)


def _queue(console: Console) -> QueueStore:
    if console.queue is None:
        raise web.HTTPNotFound(text="supervision is not configured")
    return console.queue


def item_filter(form: dict[str, str], *, limit: int, offset: int = 0) -> ItemFilter:
    """The queue filter of the page's fields (empty fields do not filter)."""
    status = form.get("status") or "open"
    if status not in STATUSES:
        raise ConfigError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    reason = form.get("queued_for") or None
    if reason is not None and reason not in REASONS:
        raise ConfigError(f"queued for {reason!r} is not one of {', '.join(REASONS)}")
    age = form.get("older_than", "")
    assignee = form.get("assignee")
    return ItemFilter(
        policy=form.get("policy") or None,
        conversation=form.get("conversation") or None,
        participant=form.get("participant") or None,
        older_than=parse_age(age) if age else None,
        status=status,
        assignee=None if not assignee else ("" if assignee == "-" else assignee),
        reason=reason,
        rule=form.get("rule") or None,
        limit=limit,
        offset=offset,
    )


def _form(values: Any) -> dict[str, str]:
    return {k: str(values[k]).strip() for k in FILTERS if str(values.get(k, "")).strip()}


def _int(text: str, default: int) -> int:
    try:
        return max(1, int(text))
    except ValueError:
        return default


async def queue_page(request: web.Request) -> web.Response:
    session = require_session(request)
    console = console_of(request)
    queue = _queue(console)
    form = _form(request.query)
    size = console.settings.page_size
    page = _int(request.query.get("page", "1"), 1)
    now = console.clock.now()
    try:
        f = item_filter(form, limit=size, offset=(page - 1) * size)

        def read() -> tuple[list[dict[str, Any]], int, list[str]]:
            items = list_items(queue, f, now)
            total = count_items(queue, f, now)
            names = [str(r[0]) for r in queue.query("SELECT DISTINCT policy FROM items")]
            return items, total, sorted(names)

        items, total, policies = await asyncio.to_thread(read)
    except ChatkeeperError as exc:
        await console.audit.record(
            "review_queue_viewed",
            session.user.name,
            outcome="refused",
            client=client_of(request),
            filters=urlencode(form),
        )
        return failure_page(request, exc)
    await console.audit.record(
        "review_queue_viewed",
        session.user.name,
        client=client_of(request),
        filters=urlencode(form),
        page=page,
        items=len(items),
        total=total,
    )
    for item in items:
        item["rules"] = sorted({h["rule"] for h in item["hits"]})
    pages = max(1, math.ceil(total / size))
    return aiohttp_jinja2.render_template(
        "review_queue.html",
        request,
        {
            "session": session,
            "form": form,
            "items": items,
            "total": total,
            "page": page,
            "pages": pages,
            "policies": policies,
            "statuses": STATUSES,
            "reasons": REASONS,
            "query": urlencode(form),
            "cleared": request.query.get("cleared", ""),
        },
    )


async def item_page(request: web.Request) -> web.Response:
    session = require_session(request)
    console = console_of(request)
    queue = _queue(console)
    item_id = request.match_info["item"]
    try:
        item = await asyncio.to_thread(get_item, queue, item_id)
    except ConfigError as exc:
        await console.audit.record(
            "review_item_viewed",
            session.user.name,
            outcome="not_found",
            client=client_of(request),
            item=item_id,
        )
        raise web.HTTPNotFound(text="no such review item") from exc
    users = await asyncio.to_thread(console.accounts.users)
    await console.audit.record(
        "review_item_viewed",
        session.user.name,
        client=client_of(request),
        item=item_id,
        policy=item["policy"],
        record_key=item["record_key"],
        bundle=item["bundle"],
    )
    return aiohttp_jinja2.render_template(
        "review_item.html",
        request,
        {
            "session": session,
            "item": item,
            "pieces": highlight_spans(item["text"] or "", item["hits"]),
            "decisions": DECISIONS,
            "reviewers": [u.name for u in users if not u.disabled],
        },
    )


async def _record(
    request: web.Request,
    items: list[dict[str, Any]],
    *,
    action: str,
    comment: str,
    decision: str | None = None,
    assignee: str | None = None,
) -> list[dict[str, Any]] | web.Response:
    """Each item's decision or assignment sealed-to-be, then the officer action; or a failure."""
    session = require_session(request)
    console = console_of(request)
    queue = _queue(console)
    what: dict[str, Any] = {"decision": decision} if decision is not None else {}
    if assignee is not None:
        what["assignee"] = assignee
    try:
        rows = await asyncio.to_thread(
            record_decisions,
            console.audit.journal,
            queue,
            console.view.layout.stream,
            items,
            reviewer=session.user.name,
            clock=console.clock,
            comment=comment,
            **what,
        )
    except ChatkeeperError as exc:
        await console.audit.record(
            action,
            session.user.name,
            outcome=type(exc).__name__,
            client=client_of(request),
            items=[i["id"] for i in items],
            **what,
        )
        return failure_page(request, exc)
    await console.audit.record(
        action,
        session.user.name,
        client=client_of(request),
        items=[r["item"] for r in rows],
        decision_ids=[r["id"] for r in rows],
        **what,
    )
    return rows


async def _one(request: web.Request) -> dict[str, Any]:
    queue = _queue(console_of(request))
    try:
        return await asyncio.to_thread(get_item, queue, request.match_info["item"])
    except ConfigError as exc:
        raise web.HTTPNotFound(text="no such review item") from exc


async def decide(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    item = await _one(request)
    decision = str(form.get("decision", ""))
    outcome = await _record(
        request,
        [item],
        action="review_decided",
        comment=str(form.get("comment", "")),
        decision=decision,
    )
    if isinstance(outcome, web.Response):
        return outcome
    raise web.HTTPFound(f"/review/item/{item['id']}")


async def assign(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    item = await _one(request)
    outcome = await _record(
        request,
        [item],
        action="review_assigned",
        comment=str(form.get("comment", "")),
        assignee=str(form.get("assignee", "")).strip(),
    )
    if isinstance(outcome, web.Response):
        return outcome
    raise web.HTTPFound(f"/review/item/{item['id']}")


async def bulk_clear(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    console = console_of(request)
    queue = _queue(console)
    ids = list(dict.fromkeys(str(v) for v in form.getall("item", [])))
    reason = str(form.get("reason", "")).strip()
    back = _form(form)
    try:
        if not ids:
            raise ConfigError("select the items to clear")
        if len(ids) > MAX_BULK:
            raise ConfigError(f"clear at most {MAX_BULK} items at once")
        if not reason:
            raise ConfigError("a bulk clear needs a reason")

        def read() -> list[dict[str, Any]]:
            found = [get_item(queue, i) for i in ids]
            return [i for i in found if i["decision"] in (None, "needs_follow_up")]

        items = await asyncio.to_thread(read)
    except ConfigError as exc:
        await console.audit.record(
            "review_cleared",
            require_session(request).user.name,
            outcome=type(exc).__name__,
            client=client_of(request),
            items=ids[:MAX_BULK],
        )
        return failure_page(request, exc)
    outcome = await _record(
        request, items, action="review_cleared", comment=reason, decision=CLEARED
    )
    if isinstance(outcome, web.Response):
        return outcome
    raise web.HTTPFound("/review?" + urlencode({**back, "cleared": str(len(outcome))}))


def _day(text: str, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{text!r}: give a date as YYYY-MM-DD") from exc


async def report_page(request: web.Request) -> web.Response:
    session = require_session(request)
    console = console_of(request)
    queue = _queue(console)
    today = console.clock.now().astimezone(UTC).date()
    policy = request.query.get("policy", "").strip()
    try:
        first = _day(request.query.get("from", "").strip(), today.replace(day=1))
        last = _day(request.query.get("to", "").strip(), today)
        if last < first:
            raise ConfigError("the period ends before it starts")
        now = console.clock.now()
        reports: list[PolicyReport] = await asyncio.to_thread(build_report, queue, first, last, now)
    except ChatkeeperError as exc:
        return failure_page(request, exc)
    names = [r.policy for r in reports]
    shown = [r for r in reports if not policy or r.policy == policy]
    await console.audit.record(
        "review_report_viewed",
        session.user.name,
        client=client_of(request),
        start=first.isoformat(),
        end=last.isoformat(),
        policy=policy,
    )
    return aiohttp_jinja2.render_template(
        "review_report.html",
        request,
        {
            "session": session,
            "reports": [(r, r.row()) for r in shown],
            "policies": names,
            "policy": policy,
            "start": first.isoformat(),
            "end": last.isoformat(),
        },
    )


def add_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.get("/review", queue_page),
            web.post("/review/clear", bulk_clear),
            web.get("/review/report", report_page),
            web.get("/review/item/{item}", item_page),
            web.post("/review/item/{item}/decide", decide),
            web.post("/review/item/{item}/assign", assign),
        ]
    )
