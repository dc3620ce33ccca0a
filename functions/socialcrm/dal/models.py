"""PynamoDB models of the CRM tables. Keys and indexes mirror ``socialcrm.topology.TABLES`` (a test checks).

Table names, region and endpoint are bound at start-up by :func:`bind`, from the function's settings.
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class BySubjectIndex(GlobalSecondaryIndex["InteractionItem"]):
    """A subject's interactions by time: timelines, export and erasure without scans."""

    class Meta:
        index_name = "by_subject"
        projection = AllProjection()

    subject_id = UnicodeAttribute(hash_key=True)
    occurred_at = UnicodeAttribute(range_key=True)


class InteractionItem(Model):
    class Meta:
        table_name = "socialcrm-interactions"
        region: str | None = None
        host: str | None = None

    # Keyed by the project's own id (a keyed hash of interaction_id): platform ids can carry personal
    # data, and events and derived keys carry the ref. The CRM API computes it from the platform id.
    interaction_ref = UnicodeAttribute(hash_key=True)
    interaction_id = UnicodeAttribute()
    subject_id = UnicodeAttribute()
    occurred_at = UnicodeAttribute()  # ISO-8601 UTC, sortable
    received_at = UnicodeAttribute()
    platform = UnicodeAttribute()
    kind = UnicodeAttribute()
    native_id = UnicodeAttribute()
    thread_id = UnicodeAttribute(null=True)
    parent_id = UnicodeAttribute(null=True)
    author = MapAttribute()  # type: ignore[var-annotated]
    text = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    sentiment = MapAttribute(null=True)  # type: ignore[var-annotated]
    sentiment_status = UnicodeAttribute(null=True)
    routing = MapAttribute(null=True)  # type: ignore[var-annotated]
    conversation_ref = UnicodeAttribute(null=True)
    reply_marker = UnicodeAttribute(null=True)  # a brand reply socialcrm sent: its reply id
    # keyed hashes of the strong identifiers it carried (socialcrm.models.identity_keys)
    identity_keys = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[var-annotated]
    enriched_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    by_subject = BySubjectIndex()


class SubjectItem(Model):
    """A data subject's profile, updated atomically as interactions are stored."""

    class Meta:
        table_name = "socialcrm-subjects"
        region: str | None = None
        host: str | None = None

    subject_id = UnicodeAttribute(hash_key=True)
    platforms = UnicodeSetAttribute(null=True)
    handles = UnicodeSetAttribute(null=True)  # "platform:handle"
    first_seen = UnicodeAttribute(null=True)
    last_seen = UnicodeAttribute(null=True)
    interactions = NumberAttribute(default=0)
    positive = NumberAttribute(default=0)
    negative = NumberAttribute(default=0)
    neutral = NumberAttribute(default=0)
    mixed = NumberAttribute(default=0)
    unscored = NumberAttribute(default=0)
    follower_count = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)


MODELS: dict[str, type[Model]] = {"interactions": InteractionItem, "subjects": SubjectItem}


def bind(table_names: dict[str, str], *, region: str | None, host: str | None = None) -> None:
    """Point the models at their tables (names from the environment; host for the local stack)."""
    for key, model in MODELS.items():
        if key in table_names:
            model.Meta.table_name = table_names[key]
        model.Meta.region = region  # type: ignore[attr-defined]
        model.Meta.host = host  # type: ignore[attr-defined]
        model._connection = None  # drop a connection bound to the previous table/endpoint
