"""``socialcrm cases``: work a queue from the terminal.

    socialcrm cases list --team support [--status open] [--priority P1] [--limit 25] [--json]
    socialcrm cases show CASE_ID [--json]
    socialcrm cases assign CASE_ID --to agent-7
    socialcrm cases reply CASE_ID --text "…" [--private] | --template NAME [--param key=value …]
    socialcrm cases resolve CASE_ID

Requests go to the deployed API signed with SigV4, or to the local stack with ``--local``
(:mod:`socialcrm.cli.http`). Tables show ids, clocks and kinds, never message text: the text stays in
the CRM. Exit codes: 0 done, 2 the request could not be made (the message says why).
"""

from __future__ import annotations

import argparse
import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from socialcrm.cli import CliError
from socialcrm.cli.http import add_api_arguments, api_of

_CASE_ID = re.compile(r"^[cs]_[0-9a-f]{32}$")
_TEAM = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_AGENT = re.compile(r"^[\w.@+:/-]{1,128}$")

# Seam for the tests: what time it is.
now: Callable[[], datetime] = lambda: datetime.now(tz=UTC)  # noqa: E731


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("cases", help="work queues: list, show, assign, reply to and resolve cases")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, help_text: str, func: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        add_api_arguments(parser)
        parser.set_defaults(func=func)
        return parser

    listing = command("list", "a team's queue, most urgent first, then soonest due", _list)
    listing.add_argument("--team", help="the team whose queue (default: every team's cases)")
    listing.add_argument("--status", choices=("open", "pending", "resolved"), default="open")
    listing.add_argument("--priority", choices=("P1", "P2", "P3", "P4"))
    listing.add_argument("--limit", type=int, default=25, help="at most this many (1-100, default 25)")
    listing.add_argument("--json", action="store_true", help="print the page as JSON")

    show = command("show", "one case: its clocks and its conversation, message by message", _show)
    show.add_argument("case_id")
    show.add_argument("--json", action="store_true", help="print the case as JSON")

    assign = command("assign", "give a case to an agent", _assign)
    assign.add_argument("case_id")
    assign.add_argument("--to", required=True, dest="assignee", help="the agent's id")

    reply = command(
        "reply", "answer the case's customer on their platform (the platform's rules apply)", _reply
    )
    reply.add_argument("case_id")
    written = reply.add_mutually_exclusive_group(required=True)
    written.add_argument("--text", help="the reply's text")
    written.add_argument("--template", help="a template of the rules document")
    reply.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="fills {KEY} in the template"
    )
    seen = reply.add_mutually_exclusive_group()
    seen.add_argument(
        "--private", action="store_true", help="answer privately (a DM; a comment's private reply)"
    )
    seen.add_argument("--public", action="store_true", help="answer publicly")
    reply.add_argument("--no-wait", action="store_true", help="do not wait to see it sent")

    resolve = command("resolve", "resolve a case (its clocks stop)", _resolve)
    resolve.add_argument("case_id")


# -- commands ---------------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    if args.team is not None and not _TEAM.match(args.team):
        raise CliError(f"--team is a team name (lower case, digits, - or _), not {args.team!r}")
    if not 1 <= args.limit <= 100:
        raise CliError(f"--limit is between 1 and 100, not {args.limit}")
    query = {"status": args.status, "limit": args.limit}
    query |= {k: v for k, v in (("team", args.team), ("priority", args.priority)) if v}
    page = api_of(args).call("GET", "/cases?" + urlencode(query))
    cases = page.get("items", []) if isinstance(page, dict) else []
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    if not cases:
        print(f"no {args.status} cases" + (f" for {args.team}" if args.team else ""))
        return 0
    at = now()
    rows = [
        [
            case["case_id"],
            case["priority"],
            case["status"],
            _due(case, at),
            str(case.get("message_count") or len(case.get("messages", []))),
            _since(case.get("first_response_at"), case.get("opened_at")),
            ",".join(case.get("teams", [])),
            case.get("assignee") or "-",
            ",".join(case.get("tags", [])),
        ]
        for case in cases
    ]
    print(
        _table(
            ["case", "pri", "status", "first response due", "msgs", "answered", "teams", "agent", "tags"],
            rows,
        )
    )
    if page.get("next_cursor"):
        print("… more: raise --limit (at most 100) or narrow by --priority")
    return 0


def _show(args: argparse.Namespace) -> int:
    api = api_of(args)
    case = api.call("GET", f"/cases/{_case_id(args.case_id)}")
    if args.json:
        print(json.dumps(case, indent=2))
        return 0
    at = now()
    print(f"{case['case_id']}  {case['priority']}  {case['status']}  teams {','.join(case.get('teams', []))}")
    print(f"  platform {case['platform']}, opened {case['opened_at']}, agent {case.get('assignee') or '-'}")
    if case.get("rules"):
        print(
            f"  rules {', '.join(case['rules'])}"
            + (f"; tags {', '.join(case['tags'])}" if case.get("tags") else "")
        )
    print("  clocks")
    first = case.get("first_response_at")
    source = f" ({case['first_response_source']})" if case.get("first_response_source") else ""
    print(
        f"    first response  due {case['sla_due_at']}  "
        + (f"answered {first}{source}, {_met(case.get('sla_met'))}" if first else _due(case, at))
    )
    for n, wait in enumerate(case.get("next_responses", []), start=1):
        answered = f"answered {wait['responded_at']}" if wait.get("responded_at") else "waiting"
        print(f"    next response {n}  due {wait['due_at']}  {answered}, {_met(wait.get('met'))}")
    if case.get("resolution_due_at"):
        resolved = f"resolved {case['resolved_at']}" if case.get("resolved_at") else "open"
        print(
            f"    resolution      due {case['resolution_due_at']}  {resolved}, {_met(case.get('resolution_met'))}"
        )
    if case.get("reopened_count"):
        print(f"    reopened {case['reopened_count']} time(s)")
    messages = case.get("messages", [])
    print(f"  conversation: {case.get('message_count', len(messages))} message(s)")
    for message in messages:
        who = (
            ("automatic" if message.get("automated") else "brand    ")
            if message.get("from_brand")
            else "customer "
        )
        print(f"    {message['occurred_at']}  {who}  {message['kind']:<15} {message['interaction_id']}")
    replies = (
        api.call("GET", f"/cases/{case['case_id']}/replies").get("items", [])
        if case["case_id"].startswith("c_")
        else []
    )
    if replies:
        print(f"  replies: {len(replies)}")
        for reply in replies:
            print(f"    {reply['created_at']}  {reply['author']:<10} {_reply_line(reply)}")
    return 0


def _assign(args: argparse.Namespace) -> int:
    if not _AGENT.match(args.assignee):
        raise CliError(f"--to is an agent's id (letters, digits and ._@+:/-), not {args.assignee!r}")
    case = _patch(args, {"assignee": args.assignee})
    print(f"{case['case_id']} assigned to {case.get('assignee')}")
    return 0


REPLY_WAIT_SECONDS = 20.0


def _reply(args: argparse.Namespace) -> int:
    case_id = _case_id(args.case_id)
    body: dict[str, Any] = {"text": args.text} if args.text is not None else {"template": args.template}
    params = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param is KEY=VALUE, not {item!r}")
        params[key] = value
    if params:
        if args.template is None:
            raise CliError("--param fills a template: give --template too")
        body["params"] = params
    if args.private or args.public:
        body["visibility"] = "private" if args.private else "public"
    api = api_of(args)
    # One key per command: a retry of this request (a timeout) is the same reply, never a second one.
    reply = api.call("POST", f"/cases/{case_id}/replies", body, headers={"idempotency-key": uuid.uuid4().hex})
    if not isinstance(reply, dict) or "reply_id" not in reply:
        raise CliError("the API answered without the reply")
    deadline = time.monotonic() + (0 if args.no_wait else REPLY_WAIT_SECONDS)
    while reply.get("status") == "queued" and time.monotonic() < deadline:
        time.sleep(0.5)
        reply = api.call("GET", f"/cases/{case_id}/replies/{reply['reply_id']}")
    print(_reply_line(reply))
    return 0 if reply.get("status") in ("queued", "sent") else 1


def _reply_line(reply: dict[str, Any]) -> str:
    status = reply.get("status")
    line = f"{reply['reply_id']}  {reply.get('visibility')}  {status}"
    if status == "sent":
        return f"{line} at {reply.get('sent_at')} ({reply.get('platform')} id {reply.get('platform_message_id')})"
    if status in ("failed", "unknown"):
        return f"{line}: {reply.get('error_message')}" + (
            f" [{reply['error_code']}]" if reply.get("error_code") else ""
        )
    return f"{line} (not sent yet: `socialcrm cases show {reply['case_id']}` shows it)"


def _resolve(args: argparse.Namespace) -> int:
    case = _patch(args, {"status": "resolved"})
    print(
        f"{case['case_id']} resolved at {case.get('resolved_at')}; first response {_met(case.get('sla_met'))}, "
        f"resolution {_met(case.get('resolution_met'))}"
    )
    return 0


# -- helpers ----------------------------------------------------------------------------------------


def _patch(args: argparse.Namespace, change: dict[str, Any]) -> dict[str, Any]:
    case = api_of(args).call("PATCH", f"/cases/{_case_id(args.case_id)}", change)
    if not isinstance(case, dict) or "case_id" not in case:
        raise CliError("the API answered without the case")
    return case


def _case_id(value: str) -> str:
    """The id as given, once it looks like a case id (``c_`` or ``s_`` and 32 hex digits).

    >>> _case_id("c_" + "0" * 32)
    'c_00000000000000000000000000000000'
    """
    if not _CASE_ID.match(value):
        raise CliError(
            f"a case id is c_ or s_ and 32 hex digits (as `socialcrm cases list` shows), not {value!r}"
        )
    return value


def _due(case: dict[str, Any], at: datetime) -> str:
    """When the first response is due, from ``at``: ``in 42 min``, ``3 min overdue``, or how it ended."""
    if case.get("first_response_at") or case.get("sla_met") is not None:
        return _met(case.get("sla_met"))
    minutes = int((datetime.fromisoformat(case["sla_due_at"]) - at).total_seconds() // 60)
    return f"in {minutes} min" if minutes >= 0 else f"{-minutes} min overdue"


def _since(answered: str | None, opened: str | None) -> str:
    if not answered or not opened:
        return "-"
    minutes = (datetime.fromisoformat(answered) - datetime.fromisoformat(opened)).total_seconds() / 60
    return f"after {max(0, round(minutes))} min"


def _met(met: bool | None) -> str:
    return {True: "met", False: "missed", None: "running"}[met]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)
