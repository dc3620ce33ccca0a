"""``socialcrm events``: re-deliver the bus's archived events to the consumers after an outage.

    socialcrm events replay --stage prod --from 2026-11-24T10:00Z --to 2026-11-24T12:30Z [--consumer route] [--yes] [--wait]
    socialcrm events replay-status REPLAY_NAME --stage prod [--wait]

The bus's archive (``<bus>-events``) keeps every socialcrm event for ``RETENTION_DAYS["bus_archive"]``
days. A replay sends the events that occurred in the window back to the consumers' rules (all of them,
or those named by ``--consumer``) through EventBridge ``StartReplay``; each event carries the replay's
name. Replays are safe to run over events already handled: the route consumer routes only messages
never routed (a message written before its case was resolved is recorded, never reopening it; a brand
reply of an earlier round is left out of the conversation's case), skips subjects erased or objecting
since, and never answers automatically; the report consumer counts no fact twice and drops erased and
objecting subjects' facts; an erasure already completed is not run again.

The bus is ``socialcrm-<stage>`` (``--stage``), or named with ``--bus`` (the local stack's is
``socialcrm``). AWS is reached with the default credential chain; ``AWS_ENDPOINT_URL`` (or
``--endpoint-url``) points at the local stack's embedded AWS, whose address ``make local`` prints.
Exit codes: 0 started (or, with ``--wait``, completed), 1 the replay failed or was cancelled, 2 the
replay could not be started (the message says why).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from socialcrm.cli import CliError
from socialcrm.topology import RETENTION_DAYS, archive_name, replay_consumers, rule_name

FINAL = ("COMPLETED", "FAILED", "CANCELLED")
_STAGE_PREFIX = "socialcrm-"
_BUS_NAME = re.compile(r"[A-Za-z0-9._-]{1,40}")
# EventBridge may take a few minutes to archive an event: a window ending later than this ago may miss some.
ARCHIVE_DELAY = timedelta(minutes=10)

# Seams for the tests: how to wait, what time it is, and whether a person is at the terminal.
sleep: Callable[[float], None] = time.sleep
now: Callable[[], datetime] = lambda: datetime.now(tz=UTC)  # noqa: E731
interactive: Callable[[], bool] = lambda: sys.stdin.isatty()  # noqa: E731


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("events", help="the event bus: replay its archive to the consumers")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    replay = commands.add_parser(
        "replay",
        help="re-deliver the archived events of a time window to the consumers",
        description="Re-deliver the archived events of a time window to the consumers (safe over "
        "events already handled: nothing is routed, counted or erased twice, no reply is sent).",
    )
    _bus_arguments(replay)
    replay.add_argument(
        "--from", dest="start", required=True, help="start of the window (ISO 8601, UTC if no offset)"
    )
    replay.add_argument(
        "--to", dest="end", required=True, help="end of the window (ISO 8601, UTC if no offset)"
    )
    replay.add_argument(
        "--consumer",
        action="append",
        choices=replay_consumers(),
        default=[],
        help="replay to this consumer only (repeatable; default: every consumer)",
    )
    replay.add_argument("--yes", action="store_true", help="start without asking")
    replay.add_argument("--wait", action="store_true", help="wait until the replay has completed")
    replay.add_argument("--timeout", type=int, default=3600, help="seconds --wait waits (3600)")
    replay.set_defaults(func=_replay)

    status = commands.add_parser("replay-status", help="the state of a replay")
    _bus_arguments(status)
    status.add_argument("name", help="the replay's name, as `events replay` printed it")
    status.add_argument("--wait", action="store_true", help="wait until the replay has ended")
    status.add_argument("--timeout", type=int, default=3600, help="seconds --wait waits (3600)")
    status.set_defaults(func=_status)


def _bus_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stage", help="the stage deployed (its bus is socialcrm-<stage>)")
    where.add_argument("--bus", help="the bus by name (the local stack's is socialcrm)")
    parser.add_argument(
        "--endpoint-url", default=None, help="another EventBridge endpoint (the local stack's)"
    )
    parser.add_argument("--region", default=None, help="the AWS region (default: the AWS configuration's)")


def bus_of(args: argparse.Namespace) -> str:
    """The bus the command acts on: ``--bus``, ``socialcrm-<--stage>``, else ``$EVENT_BUS_NAME``."""
    named = (
        str(args.bus)
        if args.bus
        else f"{_STAGE_PREFIX}{args.stage}"
        if args.stage
        else os.environ.get("EVENT_BUS_NAME")
    )
    if not named:
        raise CliError("name the bus: --stage STAGE (the bus socialcrm-STAGE) or --bus NAME")
    if not _BUS_NAME.fullmatch(named):
        raise CliError(f"{named!r} is not a bus name (letters, digits, '.', '-', '_'; not an ARN)")
    return named


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 time; UTC when it names no offset.

    >>> parse_time("2026-11-24T10:00Z", "--from").isoformat()
    '2026-11-24T10:00:00+00:00'
    >>> parse_time("2026-11-24 11:00+01:00", "--to").isoformat()
    '2026-11-24T10:00:00+00:00'
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise CliError(f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-11-24T10:00Z)") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def window(start_text: str, end_text: str, *, at: datetime) -> tuple[datetime, datetime]:
    """The replay's window, checked: in order, not in the future, and inside what the archive keeps."""
    start, end = parse_time(start_text, "--from"), parse_time(end_text, "--to")
    if start >= end:
        raise CliError("--from must be before --to")
    if end > at:
        raise CliError(f"--to is in the future (it is {at:%Y-%m-%dT%H:%MZ} now)")
    kept = RETENTION_DAYS["bus_archive"]
    oldest = at - timedelta(days=kept)
    if start < oldest:
        raise CliError(f"the archive keeps {kept} days: --from must be after {oldest:%Y-%m-%dT%H:%MZ}")
    return start, end


def _client(args: argparse.Namespace) -> Any:
    import boto3

    region = args.region or os.environ.get("AWS_REGION") or None
    return _aws(
        lambda: boto3.client("events", endpoint_url=args.endpoint_url, region_name=region), "EventBridge"
    )


def _aws(call: Callable[[], Any], what: str) -> Any:
    """One EventBridge call; a failure the user can act on becomes a one-line :class:`CliError`."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        return call()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ResourceNotFoundException":
            raise CliError(f"{what}: not found (is that stage deployed? --stage/--bus)") from exc
        raise CliError(
            f"{what}: {error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
        ) from exc
    except NoCredentialsError as exc:
        raise CliError(
            f"{what}: no AWS credentials (set a profile, or AWS_ACCESS_KEY_ID for the local stack)"
        ) from exc
    except NoRegionError as exc:
        raise CliError(f"{what}: no AWS region (--region or AWS_REGION)") from exc
    except BotoCoreError as exc:
        raise CliError(f"{what}: {exc}") from exc


def _replay(args: argparse.Namespace) -> int:
    start, end = window(args.start, args.end, at=now())
    bus = bus_of(args)
    consumers = tuple(dict.fromkeys(args.consumer)) or replay_consumers()
    client = _client(args)
    archive = _aws(
        lambda: client.describe_archive(ArchiveName=archive_name(bus)), f"archive {archive_name(bus)}"
    )
    if archive.get("State") not in (None, "ENABLED"):
        raise CliError(f"archive {archive_name(bus)} is {archive['State']}: nothing to replay from")
    rules = [_rule_arn(client, bus, key) for key in consumers]
    if end > now() - ARCHIVE_DELAY:
        print(
            f"note: events of the last {ARCHIVE_DELAY.seconds // 60} minutes may not be in the archive yet; "
            "replay that part again later if some are missing"
        )
    print(
        f"replay the events of {start:%Y-%m-%dT%H:%M:%SZ} to {end:%Y-%m-%dT%H:%M:%SZ} from {archive_name(bus)} "
        f"to: {', '.join(consumers)}\n"
        "  messages already routed are not routed again, no resolved case is reopened by a message written "
        "before it was resolved, erased and objecting subjects are skipped, no reply is sent"
    )
    if not args.yes:
        if not interactive():
            raise CliError("nothing replayed: add --yes to replay without being asked")
        if input("start the replay? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing replayed")
            return 0
    name = f"{bus}-{start:%Y%m%dT%H%M}-{secrets.token_hex(3)}"[-64:].lstrip("-")
    started = _aws(
        lambda: client.start_replay(
            ReplayName=name,
            Description=f"socialcrm events replay to {', '.join(consumers)}"[:512],
            EventSourceArn=archive["ArchiveArn"],
            EventStartTime=start,
            EventEndTime=end,
            Destination={"Arn": archive["EventSourceArn"], "FilterArns": rules},
        ),
        "start the replay",
    )
    print(f"replay {name}: {started.get('State', 'STARTING')}")
    if not args.wait:
        print(f"  follow it with: socialcrm events replay-status {name} {_where(args)}".rstrip())
        return 0
    return _follow(client, name, args.timeout)


def _rule_arn(client: Any, bus: str, key: str) -> str:
    name = rule_name(bus, key)
    return str(_aws(lambda: client.describe_rule(Name=name, EventBusName=bus), f"rule {name}")["Arn"])


def _where(args: argparse.Namespace) -> str:
    return f"--stage {args.stage}" if args.stage else f"--bus {args.bus}" if args.bus else ""


def _status(args: argparse.Namespace) -> int:
    bus_of(args)  # the same naming rules as replay, so the same mistakes are caught the same way
    client = _client(args)
    if args.wait:
        return _follow(client, args.name, args.timeout)
    described = _aws(lambda: client.describe_replay(ReplayName=args.name), f"replay {args.name}")
    _show(args.name, described)
    return 1 if described.get("State") in ("FAILED", "CANCELLED") else 0


def _follow(client: Any, name: str, timeout: int) -> int:
    deadline = time.monotonic() + timeout
    while True:
        described = _aws(lambda: client.describe_replay(ReplayName=name), f"replay {name}")
        state = described.get("State")
        if state in FINAL:
            _show(name, described)
            return 0 if state == "COMPLETED" else 1
        if time.monotonic() >= deadline:
            _show(name, described)
            raise CliError(f"replay {name} is still {state} after {timeout} s (it goes on)")
        sleep(5.0)


def _show(name: str, described: dict[str, Any]) -> None:
    line = f"replay {name}: {described.get('State')}"
    if described.get("StateReason"):
        line += f" ({described['StateReason']})"
    print(line)
