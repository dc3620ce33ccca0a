"""``socialcrm secrets set``: put one section of the platform-secrets document, keeping the rest.

    socialcrm secrets set meta app_secret=… verify_token=… --secret-id socialcrm-prod-data/platform-secrets
    socialcrm secrets set send.facebook access_token=… --secret-id …
    socialcrm secrets set x consumer_secret=- --file config/local-secrets.json     (the value read from stdin)

The document is read (Secrets Manager, or a local file), the section's keys merged in, the whole validated
against the schema (``socialcrm.secrets.PlatformSecrets``), and written back only if it is valid and keeps
``subject_pepper`` as it was: the pepper keys every subject id, and a document without it, or with
another, would orphan every record. Otherwise nothing is written and the refusal names the field. A value
of ``-`` is read from standard input, so a secret need not appear in the shell's history. Values are never
printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from socialcrm.cli import CliError

_SECTIONS = (
    "meta",
    "x",
    "linkedin",
    "tiktok",
    "youtube",
    "generic",
    "send.base_urls",
    "send.facebook",
    "send.instagram",
    "send.whatsapp",
    "send.x",
    "send.linkedin",
    "send.tiktok",
    "send.generic",
)


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "secrets", help="the platform-secrets document: set a section, keep the rest"
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    put = commands.add_parser(
        "set",
        help="merge KEY=VALUE pairs into one section of the document (the pepper is kept)",
        description="Merge KEY=VALUE pairs into one section; the document is validated and the pepper kept.",
    )
    put.add_argument("section", choices=_SECTIONS, help="the section to set, e.g. meta or send.facebook")
    put.add_argument("pairs", nargs="+", metavar="KEY=VALUE", help="a value of - is read from standard input")
    where = put.add_mutually_exclusive_group(required=True)
    where.add_argument("--secret-id", help="the secret (the PlatformSecretsName output of the data stack)")
    where.add_argument("--file", help="a local secrets file (the local stack's SOCIALCRM_SECRETS_FILE)")
    put.set_defaults(func=_set)


def _set(args: argparse.Namespace) -> int:
    values = _pairs(args.pairs)
    store = _FileStore(Path(args.file)) if args.file else _SecretStore(args.secret_id)
    document = store.read()
    merged = merge(document, args.section, values)
    store.write(merged)
    print(f"{args.section}: set {', '.join(sorted(values))} ({store.where}); subject_pepper kept")
    return 0


def merge(document: dict[str, Any], section: str, values: dict[str, str]) -> dict[str, Any]:
    """The document with ``values`` merged into ``section``; :class:`CliError` (nothing to write) when the
    result is invalid or would lose or change the pepper.

    >>> merge({"subject_pepper": "p" * 20}, "x", {"consumer_secret": "s"})["x"]
    {'consumer_secret': 's'}
    """
    from socialcrm.errors import ConfigurationError
    from socialcrm.secrets import PlatformSecrets

    pepper = document.get("subject_pepper")
    if not isinstance(pepper, str) or not pepper:
        raise CliError(
            "the document has no subject_pepper: refusing to write (restore it first; it must never change)"
        )
    merged = json.loads(json.dumps(document))
    node = merged
    for part in section.split("."):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise CliError(f"{section}: the document holds something else than a section there")
        node = child
    node.update(values)
    if merged.get("subject_pepper") != pepper:
        raise CliError("subject_pepper would change: refusing to write")
    try:
        PlatformSecrets.parse(merged, origin="the merged document")
    except ConfigurationError as exc:
        raise CliError(f"{exc.message}; nothing was written") from exc
    return merged


def _pairs(items: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(
                "give KEY=VALUE pairs (one argument has no =; it is not shown: it may be a secret)"
            )
        if key == "subject_pepper":
            raise CliError("subject_pepper is never set by hand: it keys every subject id")
        values[key] = sys.stdin.readline().rstrip("\n") if value == "-" else value
    return values


class _FileStore:
    def __init__(self, path: Path) -> None:
        self.path, self.where = path, str(path)

    def read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise CliError(f"{self.path} does not exist") from exc
        except ValueError as exc:
            raise CliError(f"{self.path} is not JSON") from exc
        if not isinstance(document, dict):
            raise CliError(f"{self.path} is not a JSON object")
        return document

    def write(self, document: dict[str, Any]) -> None:
        temporary = self.path.with_suffix(self.path.suffix + ".new")
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.chmod(temporary, 0o600)
        temporary.replace(self.path)


class _SecretStore:
    def __init__(self, secret_id: str) -> None:
        self.secret_id, self.where = secret_id, f"secret {secret_id}"

    @property
    def client(self) -> Any:
        import boto3

        return boto3.client("secretsmanager")

    def read(self) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            raw = self.client.get_secret_value(SecretId=self.secret_id)["SecretString"]
        except (BotoCoreError, ClientError) as exc:
            raise CliError(f"cannot read {self.where}: {exc}") from exc
        try:
            document = json.loads(raw)
        except ValueError as exc:
            raise CliError(f"{self.where} does not hold JSON") from exc
        if not isinstance(document, dict):
            raise CliError(f"{self.where} does not hold a JSON object")
        return document

    def write(self, document: dict[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_secret_value(SecretId=self.secret_id, SecretString=json.dumps(document))
        except (BotoCoreError, ClientError) as exc:
            raise CliError(f"cannot write {self.where}: {exc}") from exc
