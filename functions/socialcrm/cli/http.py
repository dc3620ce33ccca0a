"""The socialcrm API over HTTP for the command line: SigV4-signed requests to a deployment
(``--api-url`` or ``SOCIALCRM_API_URL``; service ``execute-api``, credentials from the default chain), or
unsigned ones to the local stack (``--local``: ``http://127.0.0.1:3000`` unless ``--api-url`` says
otherwise). ``--profile`` picks the AWS profile, one per persona as with the AWS CLI; on the local stack
its ``socialcrm_persona`` and ``socialcrm_teams`` keys become the development principal
(``socialcrm.local.principals``). Errors become one :class:`CliError` line that says what to check; a
refusal by persona says who may ("not allowed: compliance-officer only: …").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import urllib.error
import urllib.request
from typing import Any

from socialcrm.cli import CliError

LOCAL_URL = "http://127.0.0.1:3000"
SERVICE = "execute-api"
HTTP_TIMEOUT_SECONDS = 30
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    """``--api-url``, ``--local`` and ``--region``: which API a command talks to, and how it signs."""
    parser.add_argument("--api-url", help="the API's base URL (default: SOCIALCRM_API_URL)")
    parser.add_argument("--local", action="store_true", help=f"the local stack ({LOCAL_URL}), unsigned")
    parser.add_argument("--region", help="region to sign for (default: AWS_REGION, the profile, or the URL)")
    parser.add_argument(
        "--profile",
        help=(
            "the AWS profile to sign with, one per persona (default: AWS_PROFILE); on the local stack, the "
            "profile's socialcrm_persona and socialcrm_teams say who you are"
        ),
    )
    parser.add_argument(
        "--reason",
        help="why you read a person's data: a ticket reference (e.g. T-42), kept in the access log (X-Reason)",
    )


class Api:
    """The socialcrm API over HTTP: JSON in and out, SigV4-signed unless it is the local stack."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Any | None,
        region: str | None,
        reason: str | None = None,
        persona: str | None = None,
        teams: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.region = region
        self.reason = reason  # sent as X-Reason: the access log keeps it with each read
        # The local stack's development principal (None: the most able persona of each route, every team).
        self.persona, self.teams = persona, teams

    def call(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None) -> Any:
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        headers = {
            "accept": "application/json",
            **({"x-reason": self.reason} if self.reason else {}),
            **(headers or {}),
        }
        if data is not None:
            headers["content-type"] = "application/json"
        if self.credentials is not None:
            headers = self._signed(method, url, data, headers)
        else:
            from socialcrm.local.principals import dev_headers

            headers = {**dev_headers(method, path.split("?", 1)[0], self.persona, self.teams), **headers}
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
                return _json(response.read(), response.status, url)
        except urllib.error.HTTPError as exc:
            raise CliError(_http_error(exc, signed=self.credentials is not None)) from exc
        except urllib.error.URLError as exc:
            raise CliError(f"cannot reach the API at {self.base_url}: {exc.reason}{self._hint()}") from exc
        except (TimeoutError, ConnectionError) as exc:
            raise CliError(f"cannot reach the API at {self.base_url}: {exc}{self._hint()}") from exc

    def _hint(self) -> str:
        if self.credentials is None:
            return " (is the local stack running? `make local`)"
        return " (check --api-url or SOCIALCRM_API_URL)"

    def _signed(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self.credentials, SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())


def _json(raw: bytes, status: int, url: str) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise CliError(f"the API answered {status} with something that is not JSON ({url})") from exc


def _http_error(exc: urllib.error.HTTPError, *, signed: bool) -> str:
    raw = exc.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("message") or raw.decode("utf-8", "replace").strip()[:200] or exc.reason
    code = body.get("error")
    if code == "forbidden":  # the handler's answer: it names who may, or the IAM tag to fix
        return f"not allowed: {message}"
    text = f"the API refused the request: {exc.code} {code + ': ' if code else ''}{message}"
    if exc.code == 403 and signed and not code:  # API Gateway's own answer: the IAM check failed
        text += " (is your AWS principal allowed execute-api:Invoke on this API, and the region right?)"
    return text


def api_of(args: argparse.Namespace) -> Api:
    """The API the command's options name, signed with the caller's AWS credentials unless ``--local``."""
    url = args.api_url or (LOCAL_URL if args.local else os.environ.get("SOCIALCRM_API_URL"))
    if not url:
        raise CliError("no API to talk to: pass --api-url (or set SOCIALCRM_API_URL), or --local")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"--api-url must start with http:// or https://, not {url!r}")
    reason = getattr(args, "reason", None)
    profile = getattr(args, "profile", None)
    if args.local:
        persona, teams = _local_principal(profile)
        return Api(url, credentials=None, region=None, reason=reason, persona=persona, teams=teams)
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        session = botocore.session.Session(profile=profile)
        credentials = session.get_credentials()
        region = args.region or os.environ.get("AWS_REGION") or session.get_config_variable("region")
    except BotoCoreError as exc:
        raise CliError(f"cannot load AWS credentials: {exc}") from exc
    if credentials is None:
        raise CliError(
            "no AWS credentials found: configure them (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or use --local for the local stack"
        )
    host = url.split("/")[2].split(":")[0]
    from_url = _REGION_IN_HOST.search(host)
    region = args.region or (from_url.group(1) if from_url else region)
    if not region:
        raise CliError("no region to sign for: pass --region or set AWS_REGION")
    try:
        frozen = credentials.get_frozen_credentials()
    except BotoCoreError as exc:
        raise CliError(f"cannot load AWS credentials: {exc}") from exc
    return Api(url, credentials=frozen, region=region, reason=reason)


def _local_principal(profile: str | None) -> tuple[str | None, str | None]:
    """Who a command on the local stack acts as: the profile's ``socialcrm_persona`` and
    ``socialcrm_teams`` (AWS config file), or without a profile the most able persona of each route."""
    if not profile:
        return None, None
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        config = botocore.session.Session(profile=profile).get_scoped_config()
    except BotoCoreError as exc:
        raise CliError(f"cannot read the AWS profile {profile!r}: {exc}") from exc
    persona = config.get("socialcrm_persona")
    if not persona:
        raise CliError(
            f"the AWS profile {profile!r} has no socialcrm_persona: add one (agent, team-lead, "
            "compliance-officer, report-reader or operator) to use it on the local stack"
        )
    return persona, config.get("socialcrm_teams") or ""
