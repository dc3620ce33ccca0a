"""The stage a deployment is (``-c stage=prod``, default ``dev``): every stack and named resource carries it,
so dev, staging and prod deploy side by side in one account and region.

The stage is read from the CDK context wherever a construct needs a name (:meth:`Stage.of`); a value
that is not a stage name fails the synth with a message naming the context key. Account and region come
from ``-c account=…`` / ``-c region=…`` when given (else the stacks stay environment-agnostic, as
``cdk synth`` needs no AWS account).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Environment
from constructs import Construct

STAGE_CONTEXT = "stage"
ALARM_EMAIL_CONTEXT = "alarm_email"
ALARM_TOPIC_CONTEXT = "alarm_topic_arn"
WATCHED_CONTEXT = "watched_platforms"
SILENCE_CONTEXT = "silent_after_hours"
YOUTUBE_CHANNELS_CONTEXT = "youtube_channels"
DEFAULT_SILENCE_HOURS = 24
ACCOUNT_CONTEXT = "account"
REGION_CONTEXT = "region"
DEFAULT_STAGE = "dev"
# Short enough for every name it prefixes (a dashboard, a schedule group, a stack: 64 characters or fewer).
_STAGE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$")


class StageError(ValueError):
    """A context value that cannot name a stage, an account or a region; the message names it."""


@dataclass(frozen=True)
class Stage:
    name: str

    @classmethod
    def of(cls, scope: Construct) -> Stage:
        value = scope.node.try_get_context(STAGE_CONTEXT)
        name = DEFAULT_STAGE if value is None else value
        if not isinstance(name, str) or not _STAGE.match(name):
            raise StageError(
                f"context value {STAGE_CONTEXT}={value!r} is not a stage name: 1 to 12 lower-case letters "
                "and digits, starting with a letter (e.g. -c stage=prod)"
            )
        return cls(name)

    @property
    def prefix(self) -> str:
        """``socialcrm-<stage>``: the start of every name the stage owns."""
        return f"socialcrm-{self.name}"

    @property
    def stateful_stack(self) -> str:
        return f"{self.prefix}-data"

    @property
    def stateless_stack(self) -> str:
        return f"{self.prefix}-service"

    @property
    def bus_name(self) -> str:
        return self.prefix

    @property
    def schedule_group(self) -> str:
        return f"{self.prefix}-sla"

    @property
    def dashboard_name(self) -> str:
        return self.prefix

    @property
    def rules_application(self) -> str:
        return f"{self.prefix}-routing"

    @property
    def metrics_namespace(self) -> str:
        """The functions' CloudWatch namespace: the stages' metrics and alarms never mix."""
        return f"socialcrm/{self.name}"


def on_call_of(scope: Construct) -> tuple[str | None, str | None]:
    """(an e-mail address, an existing SNS topic ARN) that alarms reach, from ``-c alarm_email=…`` and
    ``-c alarm_topic_arn=…`` (either, both or neither)."""
    email = scope.node.try_get_context(ALARM_EMAIL_CONTEXT)
    topic = scope.node.try_get_context(ALARM_TOPIC_CONTEXT)
    if email is not None and (not isinstance(email, str) or not _EMAIL.match(email)):
        raise StageError(f"context value {ALARM_EMAIL_CONTEXT}={email!r} is not an e-mail address")
    if topic is not None and (not isinstance(topic, str) or not _TOPIC_ARN.match(topic)):
        raise StageError(f"context value {ALARM_TOPIC_CONTEXT}={topic!r} is not an SNS topic ARN")
    return email, topic


def watched_platforms_of(scope: Construct, known: tuple[str, ...]) -> tuple[tuple[str, ...], int]:
    """(the platforms that usually send, hours of silence that alarm) from ``-c watched_platforms=meta,x``
    and ``-c silent_after_hours=24``: a platform not sending for that long is an expired token or a
    revoked subscription."""
    raw = scope.node.try_get_context(WATCHED_CONTEXT) or ""
    hours = scope.node.try_get_context(SILENCE_CONTEXT)
    names = tuple(name for name in str(raw).split(",") if name)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise StageError(
            f"context value {WATCHED_CONTEXT}={raw!r} names no platform socialcrm serves: {', '.join(unknown)} "
            f"(one of {', '.join(known)})"
        )
    if hours is None:
        return names, DEFAULT_SILENCE_HOURS
    try:
        value = int(hours)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 24 * 7:
        raise StageError(f"context value {SILENCE_CONTEXT}={hours!r} is not a number of hours from 1 to 168")
    return names, value


def youtube_channels_of(scope: Construct) -> tuple[str, ...]:
    """The YouTube channels to follow over WebSub, from ``-c youtube_channels=UC…,UC…`` (none by default)."""
    raw = scope.node.try_get_context(YOUTUBE_CHANNELS_CONTEXT) or ""
    from socialcrm.errors import ConfigurationError
    from socialcrm.subscriptions.websub import parse_channels

    try:
        return parse_channels(str(raw))
    except ConfigurationError as exc:
        raise StageError(f"context value {YOUTUBE_CHANNELS_CONTEXT}={raw!r}: {exc.message}") from exc


def environment_of(scope: Construct) -> Environment | None:
    """The account and region from ``-c account=… -c region=…`` (both or neither), else None."""
    account = scope.node.try_get_context(ACCOUNT_CONTEXT)
    region = scope.node.try_get_context(REGION_CONTEXT)
    if account is None and region is None:
        return None
    if not isinstance(account, str) or not _ACCOUNT.match(account):
        raise StageError(f"context value {ACCOUNT_CONTEXT}={account!r} is not a 12-digit AWS account id")
    if not isinstance(region, str) or not _REGION.match(region):
        raise StageError(f"context value {REGION_CONTEXT}={region!r} is not an AWS region (e.g. eu-west-1)")
    return Environment(account=account, region=region)


# Properties that give a resource a name unique in an account and region.
PHYSICAL_NAME_PROPERTIES = frozenset(
    {
        "Name",
        "TableName",
        "QueueName",
        "TopicName",
        "FunctionName",
        "LogGroupName",
        "RoleName",
        "AlarmName",
        "AliasName",
        "BucketName",
        "DashboardName",
        "ArchiveName",
    }
)
# Resource types whose "Name" is scoped inside another resource (an application, an API) or not unique.
SCOPED_NAME_TYPES = frozenset(
    {
        "AWS::AppConfig::Environment",
        "AWS::AppConfig::ConfigurationProfile",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Stage",
    }
)


def physical_names(template: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(resource type, property, value) of every literal physical name a synthesised template gives."""
    found = set()
    for resource in template.get("Resources", {}).values():
        if resource["Type"] in SCOPED_NAME_TYPES:
            continue
        for prop, value in (resource.get("Properties") or {}).items():
            if prop in PHYSICAL_NAME_PROPERTIES and isinstance(value, str):
                found.add((resource["Type"], prop, value))
    return found
