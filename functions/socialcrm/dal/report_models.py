"""PynamoDB models of the reporting tables (``report_counters``, ``report_seen`` in ``topology.TABLES``).

Neither holds personal data. A counter is a sum keyed by day and a dimension string such as
``interactions|x|NEGATIVE|en``; a seen marker is the SHA-256 digest of a counted fact's key. The
reporting repository (``socialcrm.reporting.counters``) is the only code that uses these models.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model


class ReportCounterItem(Model):
    """One counter cell: ``day`` (YYYY-MM-DD, UTC) x ``dimension``; every number is an atomic sum.

    ``n`` counts interactions, routed interactions, first responses or spikes (by dimension family);
    ``seconds`` and the ``le_*``/``over_7d`` buckets hold first-response times; ``met`` and
    ``breached`` SLA outcomes. The bucket attributes mirror ``socialcrm.reporting.dimensions.BUCKETS``
    (a test checks).
    """

    class Meta:
        table_name = "socialcrm-report_counters"
        region: str | None = None
        host: str | None = None

    day = UnicodeAttribute(hash_key=True)
    dimension = UnicodeAttribute(range_key=True)
    n = NumberAttribute(null=True)
    seconds = NumberAttribute(null=True)
    met = NumberAttribute(null=True)
    breached = NumberAttribute(null=True)
    le_1m = NumberAttribute(null=True)
    le_5m = NumberAttribute(null=True)
    le_15m = NumberAttribute(null=True)
    le_30m = NumberAttribute(null=True)
    le_1h = NumberAttribute(null=True)
    le_2h = NumberAttribute(null=True)
    le_4h = NumberAttribute(null=True)
    le_8h = NumberAttribute(null=True)
    le_24h = NumberAttribute(null=True)
    le_48h = NumberAttribute(null=True)
    le_7d = NumberAttribute(null=True)
    over_7d = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class ReportSeenItem(Model):
    """A fact the report consumer has counted, by digest; ``day``/``dimension`` name the interaction
    cell it went into (so a sentiment that arrives later can move the count), else empty."""

    class Meta:
        table_name = "socialcrm-report_seen"
        region: str | None = None
        host: str | None = None

    fact = UnicodeAttribute(hash_key=True)
    day = UnicodeAttribute(null=True)
    dimension = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


REPORT_MODELS: dict[str, type[Model]] = {"report_counters": ReportCounterItem, "report_seen": ReportSeenItem}


def bind_reports(table_names: dict[str, str], *, region: str | None, host: str | None = None) -> None:
    """Point the reporting models at their tables (names from the environment; host for the local stack)."""
    for key, model in REPORT_MODELS.items():
        if key in table_names:
            model.Meta.table_name = table_names[key]
        model.Meta.region = region  # type: ignore[attr-defined]
        model.Meta.host = host  # type: ignore[attr-defined]
        model._connection = None  # drop a connection bound to the previous table/endpoint
