"""``socialcrm rules``: check a rules document, and dry-run it against stored interactions.

    socialcrm rules validate config/rules.yaml
    socialcrm rules validate new.yaml --json > new.json     # the JSON AppConfig serves, once valid
    socialcrm rules dry-run --rules new.yaml --days 7 [--against config/rules.yaml] [--json] [--reason T-42]

The dry run reads the interactions and cases tables named by ``INTERACTIONS_TABLE`` and ``CASES_TABLE``
(with the usual AWS credentials, or ``AWS_ENDPOINT_URL`` for the local stack) and writes nothing but one
access-log entry (``ACCESS_LEDGER_TABLE``) naming the subjects whose messages it read, before it prints
anything (``socialcrm.privacy.ledger``). It
replays the customer messages of those days conversation by conversation (brand replies are never
routed) and reports the cases the candidate would open (and open resolved), the messages that would
join a case and those it would only record, against the cases stored or another document.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from socialcrm.cli import CliError
from socialcrm.errors import ConfigurationError, SocialCrmError

# How the access log names the dry run's reads.
DRY_RUN_ROUTE = "CLI socialcrm rules dry-run"


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("rules", help="routing rules: validate, dry-run")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate", help="check rules documents (exit 2 naming the rule and field)"
    )
    validate.add_argument("files", nargs="+", help="YAML or JSON rules documents")
    validate.add_argument(
        "--json",
        action="store_true",
        help="print the (one) valid document as the compact JSON AppConfig serves, for a new version",
    )
    validate.set_defaults(func=_validate)

    dry_run = commands.add_parser(
        "dry-run",
        help="replay stored interactions against a candidate rules document; nothing is written but the "
        "access log (who read which subjects' messages)",
    )
    dry_run.add_argument("--rules", required=True, help="the candidate rules document (YAML or JSON)")
    dry_run.add_argument("--days", type=int, default=7, help="replay the interactions of the last N days (7)")
    dry_run.add_argument(
        "--against", help="compare with this rules document instead of the cases actually opened"
    )
    dry_run.add_argument("--limit", type=int, default=50, help="changes listed one by one (50)")
    dry_run.add_argument("--json", action="store_true", help="print the report as JSON")
    dry_run.add_argument(
        "--reason", help="why you read the messages: a ticket reference (e.g. T-42), kept in the access log"
    )
    dry_run.set_defaults(func=_dry_run)


def _load(path: str) -> Any:
    from socialcrm.routing.evaluator import CompiledRules
    from socialcrm.routing.rules import load_rules_file

    try:
        return CompiledRules(load_rules_file(path))
    except ConfigurationError as exc:
        raise CliError(exc.message) from exc


def _validate(args: argparse.Namespace) -> int:
    if args.json and len(args.files) != 1:
        raise CliError("--json prints one document: name one file")
    for path in args.files:
        compiled = _load(path)
        summary = f"{path}: valid ({len(compiled)} rules, {len(compiled.index.keywords)} keywords)"
        if not args.json:
            print(summary)
            continue
        print(summary, file=sys.stderr)
        print(json.dumps(_document(path), ensure_ascii=False, separators=(",", ":"), default=str))
    return 0


def _document(path: str) -> Any:
    from pathlib import Path

    from socialcrm.routing.rules import parse_rules_text

    file = Path(path)
    return parse_rules_text(file.read_text(encoding="utf-8"), origin=path, yaml_syntax=file.suffix != ".json")


def _dry_run(args: argparse.Namespace) -> int:
    from socialcrm.routing.replay import Replayed, render, replay
    from socialcrm.settings import ReplaySettings

    if not 1 <= args.days <= 366:
        raise CliError("--days must be between 1 and 366")
    candidate = _load(args.rules)
    against = _load(args.against) if args.against else None
    try:
        settings = ReplaySettings.from_env()
    except ConfigurationError as exc:
        raise CliError(exc.message) from exc
    from socialcrm.api.privacy import is_reference

    if args.reason and not is_reference(args.reason):
        raise CliError("--reason must be a ticket reference (e.g. T-42): it is kept in the access log")
    now = datetime.now(tz=UTC)
    since = now - timedelta(days=args.days)
    try:
        interactions, history, stored = _stored(settings, since)
        read = _Reading(interactions)
        report = replay(
            read,
            candidate,
            baseline=Replayed(against, history) if against is not None else stored,
            history=history,
            candidate_name=args.rules,
            baseline_name=args.against or "the cases opened",
            days=args.days,
        )
    except ConfigurationError as exc:
        raise CliError(exc.message) from exc
    except SocialCrmError as exc:  # a store error: one line, not a traceback
        if _denied(exc):
            raise CliError(DRY_RUN_DENIED) from exc
        raise CliError(
            f"{exc.message} Are INTERACTIONS_TABLE, CASES_TABLE and AWS credentials right?"
        ) from exc
    _log_access(settings, read.subjects, reason=args.reason, at=now)  # before anything is shown
    if args.json:
        print(json.dumps(report.as_json(limit=args.limit), indent=2, ensure_ascii=False))
    else:
        print(render(report, limit=args.limit), end="")
    return 0


class _Reading:
    """The interactions the dry run reads, and whose they were (for the access log)."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items
        self.subjects: dict[str, None] = {}

    def __iter__(self) -> Iterator[Any]:
        for item in self.items:
            self.subjects[item.subject_id] = None
            yield item


# What a caller whose role is not a team lead's is told (the persona policies, infra/personas.py).
DRY_RUN_DENIED = (
    "not allowed: team-lead only: rules dry-run reads the stored messages and cases (your AWS principal "
    "was refused; use the team lead's profile: AWS_PROFILE)"
)
_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})


def _denied(exc: BaseException | None) -> bool:
    """Whether AWS refused the caller somewhere in ``exc``'s causes (IAM said no, not a fault)."""
    seen = 0
    while exc is not None and seen < 10:
        response = getattr(exc, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code") in _DENIED_CODES:
            return True
        if getattr(exc, "cause_response_code", None) in _DENIED_CODES:
            return True
        exc = exc.__cause__ or getattr(exc, "cause", None)
        seen += 1
    return False


def _log_access(settings: Any, subjects: Iterable[str], *, reason: str | None, at: datetime) -> None:
    """One access-log entry naming every subject whose messages the dry run read; if it cannot be written,
    nothing is printed (the API's routes fail closed the same way)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from socialcrm.api.callers import local_principal
    from socialcrm.privacy.ledger import Access, AccessLedger

    options = {"region_name": settings.aws_region, "endpoint_url": settings.endpoint_url}
    try:
        if settings.endpoint_url:  # the local stack: its configured name, as its API records
            principal = local_principal()
        else:
            principal = boto3.client("sts", **options).get_caller_identity()["Arn"]
        ledger = AccessLedger(settings.access_ledger_table, client=boto3.client("dynamodb", **options))
        ledger.record(Access(principal, DRY_RUN_ROUTE, list(subjects), reason=reason), at=at)
    except (BotoCoreError, ClientError, SocialCrmError) as exc:
        if _denied(exc):
            raise CliError(DRY_RUN_DENIED) from exc
        raise CliError(
            "the access log could not be written, so the dry run shows nothing: check ACCESS_LEDGER_TABLE "
            f"and AWS credentials ({exc})"
        ) from exc


def _stored(settings: Any, since: datetime) -> tuple[Iterable[Any], Any, Callable[[Any], Any]]:
    """What the dry run reads from the tables: the interactions that occurred since ``since``, the
    subjects' history, and the stored cases as the baseline."""
    from socialcrm.dal import models as interaction_models
    from socialcrm.routing import store as routing_models
    from socialcrm.routing.replay import StoredCases
    from socialcrm.routing.store import CaseRepository, InteractionHistory, interactions_since

    interaction_models.bind(
        {"interactions": settings.interactions_table}, region=settings.aws_region, host=settings.endpoint_url
    )
    routing_models.bind(
        {"cases": settings.cases_table}, region=settings.aws_region, host=settings.endpoint_url
    )
    return interactions_since(since), InteractionHistory(), StoredCases(CaseRepository())
