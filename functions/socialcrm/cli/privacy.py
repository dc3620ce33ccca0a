"""``socialcrm privacy``: erasure (GDPR Art. 17), access export (Art. 15) and objections (Art. 21).

    socialcrm privacy erase --platform x --user-id 123 --reference T-42 [--also instagram:abc] [--wait]
    socialcrm privacy erase --customer cus_... --reference T-42 [--wait]
    socialcrm privacy status REQUEST_ID [--json]
    socialcrm privacy retry REQUEST_ID
    socialcrm privacy export --platform x --user-id 123 -o subject.json [--reason T-42]
    socialcrm privacy access-log --platform x --user-id 123 [--limit 50] [--json]
    socialcrm privacy access-log --customer cus_... [--limit 50] [--json]
    socialcrm privacy object --platform x --user-id 123 --reference T-50
    socialcrm privacy lift-objection --platform x --user-id 123
    socialcrm privacy objection --platform x --user-id 123

Requests go to the deployed API (``--api-url`` or ``SOCIALCRM_API_URL``) signed with SigV4 (service
``execute-api``; credentials from the default chain: environment, profile, SSO, instance role), or to
the local stack with ``--local`` (``http://127.0.0.1:3000`` unless ``--api-url`` says otherwise, unsigned).
A user id is given as the platform has it (``--user-id 'shop/ana#1'``); in URLs it travels in the API's
path-id encoding (``socialcrm.api.path_ids``): as it is when made only of letters, digits and ``._:@+=,-``,
else as ``~`` and the base64url of its UTF-8 bytes.
Exit codes: 0 done, 1 the erasure FAILED, 2 the request could not be made (the message says why).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from socialcrm.api.path_ids import encode_path_id
from socialcrm.cli import CliError
from socialcrm.cli.http import Api, add_api_arguments, api_of

FINAL = ("COMPLETED", "FAILED")

# Seams for the tests: how to wait, and what time it is.
sleep: Callable[[float], None] = time.sleep
clock: Callable[[], float] = time.monotonic


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "privacy", help="GDPR: erase a data subject, export what is held, record objections"
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, help_text: str, func: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        add_api_arguments(parser)
        parser.set_defaults(func=func)
        return parser

    def subject(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--platform", required=True, help="facebook, instagram, messenger, whatsapp, x, ..."
        )
        parser.add_argument(
            "--user-id", required=True, help="the platform's id of the person, exactly as the platform has it"
        )

    erase = command(
        "erase", "request the erasure of data subjects or customers (every store, verified)", _erase
    )
    erase.add_argument("--platform", help="facebook, instagram, messenger, whatsapp, x, ...")
    erase.add_argument("--user-id", help="the platform's id of the person, exactly as the platform has it")
    erase.add_argument(
        "--customer",
        action="append",
        default=[],
        metavar="CUSTOMER_ID",
        help="a customer (cus_...): erased with every identity linked to it",
    )
    erase.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="PLATFORM:USER_ID",
        help="more identities of the person",
    )
    erase.add_argument("--reference", required=True, help="the ticket that asked for it (e.g. T-42)")
    erase.add_argument("--wait", action="store_true", help="wait until it is COMPLETED or FAILED")
    erase.add_argument("--timeout", type=int, default=900, help="seconds --wait waits (900)")
    erase.add_argument("--interval", type=float, default=5.0, help="seconds between checks (5)")

    status = command("status", "an erasure request's status, counts per store and verification", _status)
    status.add_argument("request_id")
    status.add_argument("--json", action="store_true", help="print the request as JSON")

    retry = command("retry", "start a FAILED erasure request again (it continues where it stopped)", _retry)
    retry.add_argument("request_id")

    export = command("export", "everything held about a data subject, as one JSON document", _export)
    subject(export)
    export.add_argument(
        "-o", "--output", help="write it to this file (owner-only permissions) instead of stdout"
    )

    access_log = command(
        "access-log", "who read a subject's or a customer's data: principal, route, time, reason", _access_log
    )
    whose = access_log.add_mutually_exclusive_group(required=True)
    whose.add_argument("--customer", metavar="CUSTOMER_ID", help="a customer's log (cus_...)")
    whose.add_argument("--platform", help="a subject's log: the platform (with --user-id)")
    access_log.add_argument("--user-id", help="a subject's log: the platform's id of the person")
    access_log.add_argument(
        "--limit", type=int, default=50, help="at most this many entries, newest first (50)"
    )
    access_log.add_argument("--json", action="store_true", help="print the entries as JSON")

    objection = command(
        "object", "record an objection: nothing of the subject is processed until lifted", _object
    )
    subject(objection)
    objection.add_argument("--reference", required=True, help="the ticket that recorded it")

    lift = command("lift-objection", "lift an objection: new messages are processed again", _lift)
    subject(lift)

    show = command("objection", "whether the subject objected, and any erasure tombstone", _show_objection)
    subject(show)


def _subject_path(args: argparse.Namespace, suffix: str) -> str:
    """``/subjects/{platform}/{user_id}/{suffix}``, the user id in the API's path-id encoding.

    >>> _subject_path(argparse.Namespace(platform="generic", user_id="a/b"), "export")
    '/subjects/generic/~YS9i/export'
    """
    return f"/subjects/{quote(args.platform, safe='')}/{encode_path_id(args.user_id)}/{suffix}"


def _identity(value: str) -> dict[str, str]:
    platform, sep, user_id = value.partition(":")
    if not sep or not platform or not user_id:
        raise CliError(f"--also takes PLATFORM:USER_ID (e.g. instagram:17841400000), not {value!r}")
    return {"platform": platform, "user_id": user_id}


# -- commands ---------------------------------------------------------------------------------------


def _erase(args: argparse.Namespace) -> int:
    if bool(args.platform) != bool(args.user_id):
        raise CliError("--platform and --user-id go together")
    first = [{"platform": args.platform, "user_id": args.user_id}] if args.platform else []
    subjects = [*first, *map(_identity, args.also)]
    if not subjects and not args.customer:
        raise CliError("name someone: --platform and --user-id, --also, or --customer")
    api = api_of(args)
    body: dict[str, Any] = {"subjects": subjects, "reference": args.reference}
    if args.customer:
        body["customers"] = args.customer
    accepted = api.call("POST", "/erasure-requests", body)
    request_id = accepted["request_id"]
    print(
        f"erasure request {request_id} accepted ({accepted['status']}): "
        f"{accepted['subject_count']} subject(s), due {accepted['due_at']}"
    )
    if not args.wait:
        print(f"follow it with: socialcrm privacy status {request_id}")
        return 0
    record = _wait(api, request_id, timeout=args.timeout, interval=args.interval)
    print(_summary(record))
    _warn_not_found(record, subjects)
    return 0 if record["status"] == "COMPLETED" else 1


def _warn_not_found(record: dict[str, Any], asked: list[dict[str, str]]) -> None:
    """A warning (stderr) for each identity no store held anything of: a mistyped id completes too."""
    if record["status"] != "COMPLETED":
        return
    unique = list({(s["platform"], s["user_id"]): s for s in asked}.values())  # the request merges repeats
    for identity, subject in zip(unique, record.get("subjects", []), strict=False):
        if not subject.get("found", True):
            print(
                f"warning: nothing was held for {identity['platform']}:{identity['user_id']}; "
                "check the platform and the id (ids are case-sensitive)",
                file=sys.stderr,
            )


def _wait(api: Api, request_id: str, *, timeout: int, interval: float) -> dict[str, Any]:
    """Poll until the request is COMPLETED or FAILED, printing progress (to stderr) as it changes."""
    started = clock()
    last = None
    while True:
        record: dict[str, Any] = api.call("GET", f"/erasure-requests/{quote(request_id, safe='')}")
        progress = (record["status"], json.dumps(record.get("erased", {}), sort_keys=True))
        elapsed = clock() - started
        if progress != last:
            counts = (
                ", ".join(f"{store} {n}" for store, n in record.get("erased", {}).items()) or "nothing yet"
            )
            print(f"  [{elapsed:4.0f}s] {record['status']}: erased {counts}", file=sys.stderr, flush=True)
            last = progress
        if record["status"] in FINAL:
            return record
        if elapsed >= timeout:
            raise CliError(
                f"erasure request {request_id} is still {record['status']} after {timeout}s; "
                f"check again with: socialcrm privacy status {request_id}"
            )
        sleep(interval)


def _summary(record: dict[str, Any]) -> str:
    lines = [
        f"erasure request {record['request_id']}: {record['status']}, "
        f"verified {'yes' if record.get('verified') else 'no'}",
        f"  reference {record.get('reference')}, requested by {record.get('requested_by')}",
        f"  requested {record.get('requested_at')}, due {record.get('due_at')}, completed {record.get('completed_at') or '-'}",
    ]
    for store, count in record.get("erased", {}).items():
        lines.append(f"  {store:<14} {count:>8} erased")
    if record.get("not_found"):
        lines.append(
            f"  warning: nothing was held for {record['not_found']} of {record.get('subject_count')} "
            "subject(s): check the ids"
        )
    for limit in record.get("not_reached", []):
        lines.append(f"  not reached: {limit}")
    failure = record.get("failure")
    if failure:
        lines.append(f"  failed at {failure['store']}: {failure['reason']} ({failure['at']})")
        lines.append(f"  restart it with: socialcrm privacy retry {record['request_id']}")
    return "\n".join(lines)


def _status(args: argparse.Namespace) -> int:
    record = api_of(args).call("GET", f"/erasure-requests/{quote(args.request_id, safe='')}")
    print(json.dumps(record, indent=2) if args.json else _summary(record))
    return 1 if record["status"] == "FAILED" else 0


def _retry(args: argparse.Namespace) -> int:
    record = api_of(args).call("POST", f"/erasure-requests/{quote(args.request_id, safe='')}/retry")
    print(f"erasure request {record['request_id']} restarted (was {record['status']})")
    return 0


def _export(args: argparse.Namespace) -> int:
    document = api_of(args).call("GET", _subject_path(args, "export"))
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if not args.output:
        sys.stdout.write(text)
        return 0
    path = Path(args.output)
    try:
        # The export is personal data: readable by its owner only.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # an existing file keeps its mode through O_CREAT
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from exc
    stores = document.get("stores", {})
    held = ", ".join(
        f"{name} {len(value) if isinstance(value, list) else int(value is not None)}"
        for name, value in stores.items()
    )
    print(f"wrote {path} ({held})", file=sys.stderr)
    return 0


def _object(args: argparse.Namespace) -> int:
    state = api_of(args).call("PUT", _subject_path(args, "objection"), {"reference": args.reference})
    print(f"objection recorded for subject {state['subject_id']} since {state['objected_at']}")
    return 0


def _lift(args: argparse.Namespace) -> int:
    state = api_of(args).call("DELETE", _subject_path(args, "objection"))
    tombstone = f"; erasure tombstone of {state['erased_at']} stays" if state.get("erased_at") else ""
    print(f"objection lifted for subject {state['subject_id']}{tombstone}")
    return 0


def _show_objection(args: argparse.Namespace) -> int:
    state = api_of(args).call("GET", _subject_path(args, "objection"))
    objection = f"objected since {state['objected_at']}" if state["objection"] else "no objection"
    erased = f", erased at {state['erased_at']}" if state.get("erased_at") else ""
    print(f"subject {state['subject_id']}: {objection}{erased}")
    return 0


def _access_log(args: argparse.Namespace) -> int:
    if args.platform and not args.user_id:
        raise CliError("--platform needs --user-id (or give --customer)")
    if args.user_id and not args.platform:
        raise CliError("--user-id needs --platform")
    if not 1 <= args.limit <= 10_000:
        raise CliError("--limit must be between 1 and 10000")
    api = api_of(args)
    path = (
        f"/customers/{quote(args.customer, safe='')}/access-log"
        if args.customer
        else _subject_path(args, "access-log")
    )
    entries: list[dict[str, Any]] = []
    cursor = None
    while len(entries) < args.limit:
        query = {"limit": min(100, args.limit - len(entries)), **({"cursor": cursor} if cursor else {})}
        page = api.call("GET", f"{path}?{urlencode(query)}")
        entries += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if args.json:
        print(json.dumps({"key": page["key"], "items": entries}, indent=2))
        return 0
    whose = f"customer {page['key']}" if args.customer else f"subject {page['key']}"
    print(f"access log of {whose}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, newest first")
    for entry in entries:
        why = entry.get("reason") or "-"
        print(
            f"  {entry['at']}  {entry['route']:<52} {why:<10} {entry['subject_count']} subject(s)  "
            f"by {entry['principal']}"
        )
    return 0
