"""The registry of personal-data stores: every place that can hold a data subject, erased and exported alike.

Each store answers three questions about one subject (a :class:`SubjectScope`), always through keys and
indexes, never a scan:

- ``erase(scope) -> int`` deletes what it holds about the subject and says how many items went;
- ``remaining(scope) -> int`` looks again, by ``subject_id`` and by the raw keys seen in this run, with
  strongly consistent reads: the erasure is verified only when every store answers 0;
- ``export(scope)`` returns what it holds, JSON-ready (GDPR Art. 15).

A new table that holds personal data plugs in with one entry in :func:`build_stores`; ``CLASSIFIED``
records for every other table why it is not erased, and a test fails when a table of
``topology.TABLES`` is in neither. Queues are stores too: the dead-letter queues that can hold a
subject's messages are erased (``socialcrm.privacy.queues``), every other queue is classified with its
reason in ``CLASSIFIED_QUEUES``, and a test fails when a queue of ``topology.queue_keys()`` is in neither.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from socialcrm.aws import LazyClient
from socialcrm.errors import ConfigurationError
from socialcrm.privacy.conversations import SharedCaseEntries, brand_reply_keys
from socialcrm.privacy.dynamo import (
    Key,
    StoreFailure,
    batch_delete,
    batch_get,
    calling,
    key_id,
    partial,
    plain,
    query_all,
)
from socialcrm.privacy.queues import DeadLetterStore
from socialcrm.reporting.facts import case_fact_keys, fact_key
from socialcrm.topology import QUEUES, RETENTION_DAYS, TABLES, TableSpec

SUBJECT_INDEX = "by_subject"
SUBJECT_ATTRIBUTE = "subject_id"

# The tables that hold personal data (or pseudonymous keys of it), erased and exported through the
# registry below, in erasure order.
PERSONAL_DATA_TABLES: tuple[str, ...] = ("report_seen", "cases", "interactions", "subjects", "customers")
# The queues that can hold a subject's messages once their retries are spent: erased by subject_id.
PERSONAL_DATA_QUEUES: tuple[str, ...] = ("inbound-dlq", "route-dlq", "report-dlq")
# The report facts of a case (keyed by its id, its next-response rounds and its reopenings) are listed by
# ``socialcrm.reporting.facts.case_fact_keys`` (``CASE_FACTS`` there); "interaction" is keyed by its id.
# Tables of topology.TABLES that are not erased, and why (a test keeps this and the registry complete).
CLASSIFIED: dict[str, str] = {
    "suppressions": "the erasure tombstone and the objection flag: keyed by the pseudonymous subject_id "
    "only, kept so that nothing erased comes back (GDPR Art. 17(1) is honoured by it)",
    "erasure_requests": "the proof of each erasure: pseudonymous subject_ids, counts, times, requester and "
    "reference; no raw identifier, no content",
    "counters": "spike counters: sums per topic, platform and time window; no id of anyone",
    "report_counters": "report counters: sums per day and dimension (platform, team, sentiment); no id of anyone",
    "subscriptions": "the WebSub topics socialcrm subscribes to (the brand's own YouTube channels' feeds, "
    "configuration), their pending requests and leases; no id of a customer",
    "access_ledger": "who read whose personal data: pseudonymous subject and customer ids, IAM principals, "
    "route templates, times and ticket references; no raw id, no content. Kept six years so reads of an "
    "erased person's data stay accountable",
    "claims": "the enrich stage's leases on the messages it is analysing: keyed interaction refs, deleted when "
    "their batch ends and leased for one invocation at most",
}
# Queues of topology.queue_keys() that are not erased, and why (a test keeps this and the registry complete).
CLASSIFIED_QUEUES: dict[str, str] = {
    "inbound": "messages in flight: enrich drops an erased subject's messages by the tombstone before "
    "anything is stored, within the queue's retry period",
    "route": "bus events in flight (pseudonymous ids, no content): the route consumer only routes an "
    "interaction it can still read, and an erased one is gone",
    "report": "bus events in flight (pseudonymous ids, no content): the report consumer drops the facts of "
    "an erased subject's data by the tombstone",
    "erasure": "erasure requests in progress: request ids only, no subject id",
    "erasure-dlq": "erasure requests whose runs failed: request ids only, no subject id; the request record "
    "says FAILED and names the store",
    "outbound": "replies to send: reply ids only (the text stays with the reply, erased with its case); a "
    "reply erased while queued is gone when its id is read, and nothing is sent",
    "outbound-dlq": "replies whose sending failed every retry: reply ids only, no subject id, no content; "
    "the reply itself is erased with its case",
    "route-bus-dlq": "bus events (pseudonymous ids, no content) the route queue's rule could not deliver: "
    "redriven, the route consumer routes only an interaction it can still read, and an erased one is gone",
    "report-bus-dlq": "bus events (pseudonymous ids, no content) the report queue's rule could not deliver: "
    "redriven, the report consumer drops the facts of an erased subject's data by the tombstone",
    "erasure-bus-dlq": "ErasureRequested events the erasure queue's rule could not deliver: request ids only, "
    "no subject id; the request record says where it stands",
    "sla-dlq": "failed SLA clock invocations: case ids and the clock's kind, no subject id, no content; the "
    "case itself is erased, so the id points at nothing",
}
# What an erasure cannot reach, stated in every proof (GET /erasure-requests/{id}).
NOT_REACHED: tuple[str, ...] = (
    "DynamoDB point-in-time recovery backups of the tables: they keep each table's past states for up to "
    "35 days and expire on their own; a restore from one must be followed by replaying the erasure requests "
    "of that period",
    "a dead-letter queue message held invisible by another reader (a redrive in progress) while the queue "
    "was scanned: redriven, it is dropped by the tombstone; returned, the verification scan finds it",
    "the subject's user id inside other people's messages (a mention, a reply's parent): that is their data",
    "the event bus's archive: the pipeline's events (pseudonymous subject ids and interaction refs, no "
    "content) for 7 days, then deleted by EventBridge; replayed, the consumers drop what an erasure removed "
    "(an erased interaction cannot be read, the route consumer skips erased and objecting subjects, and the "
    "report consumer checks the tombstone)",
)


@dataclass
class SubjectScope:
    """One data subject during one erasure run or export.

    ``subject_id`` is the pseudonymous id. What the stores find through it (raw keys such as interaction
    ids) is kept here, in memory, for this run only: it lets a later store (report seen-markers) and the
    verification look those keys up directly. It is never written anywhere.
    """

    subject_id: str
    now: datetime = field(default_factory=lambda: datetime.now(tz=UTC))
    _seen: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    _current: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def remember(self, store: str, items: Sequence[dict[str, Any]], key_names: Sequence[str]) -> None:
        seen = self._seen.setdefault(store, {})
        for item in items:
            seen[key_id({name: item[name] for name in key_names})] = item

    def seen(self, store: str) -> list[dict[str, Any]]:
        """Every item (keys and remembered attributes) the store found for the subject in this run."""
        return list(self._seen.get(store, {}).values())

    def new_pass(self) -> None:
        """Forget what the last pass found (but not what was seen): the next look queries again."""
        self._current.clear()


class PersonalDataStore(Protocol):
    name: str

    def erase(self, scope: SubjectScope) -> int: ...

    def remaining(self, scope: SubjectScope) -> int: ...

    def export(self, scope: SubjectScope) -> Any: ...


class IndexedStore:
    """Items of one table found through its ``by_subject`` index (interactions, cases, notes, report rows).

    Reads of the index are eventually consistent; ``remaining`` therefore confirms each key the index
    (or this run) produced with a strongly consistent ``BatchGetItem`` before counting it.
    """

    def __init__(
        self,
        name: str,
        *,
        spec: TableSpec,
        table_name: str,
        remember: Sequence[str] = (),
        client: Any | None = None,
    ) -> None:
        if SUBJECT_INDEX not in {index.name for index in spec.indexes}:
            raise ValueError(f"table {spec.key!r} has no {SUBJECT_INDEX} index: it cannot be erased by index")
        self.name = name
        self.spec = spec
        self.table_name = table_name
        self.key_names = tuple(a.name for a in (spec.partition_key, spec.sort_key) if a is not None)
        self._remember = tuple(remember)
        self._client = client

    client = LazyClient("dynamodb")

    def found(self, scope: SubjectScope) -> list[dict[str, Any]]:
        """The subject's items as this pass found them (keys and remembered attributes), one query a pass."""
        if self.name not in scope._current:
            scope._current[self.name] = self._discover(scope)
        return scope._current[self.name]

    def _discover(self, scope: SubjectScope) -> list[dict[str, Any]]:
        wanted = [*self.key_names, *self._remember]
        names = {f"#a{n}": name for n, name in enumerate(wanted)}
        items = list(
            query_all(
                self.client,
                self.name,
                {
                    "TableName": self.table_name,
                    "IndexName": SUBJECT_INDEX,
                    "KeyConditionExpression": "#s = :s",
                    "ProjectionExpression": ", ".join(names),
                    "ExpressionAttributeNames": {"#s": SUBJECT_ATTRIBUTE, **names},
                    "ExpressionAttributeValues": {":s": {"S": scope.subject_id}},
                },
            )
        )
        scope.remember(self.name, items, self.key_names)
        return items

    def _key(self, item: dict[str, Any]) -> Key:
        return {name: item[name] for name in self.key_names}

    def erase(self, scope: SubjectScope) -> int:
        items = self.found(scope)
        deleted = batch_delete(self.client, self.name, self.table_name, [self._key(i) for i in items])
        scope._current[self.name] = []
        return deleted

    def remaining(self, scope: SubjectScope) -> int:
        self._discover(scope)  # by subject_id: anything the index holds now joins what this run saw
        candidates = [self._key(item) for item in scope.seen(self.name)]
        # by raw keys, strongly consistent: an index entry of an item already deleted is not counted
        existing = batch_get(
            self.client, self.name, self.table_name, candidates, consistent=True, projection=self.key_names
        )
        live = {key_id(self._key(item)) for item in existing}
        scope._current[self.name] = [i for i in scope.seen(self.name) if key_id(self._key(i)) in live]
        return len(existing)

    def export(self, scope: SubjectScope) -> list[dict[str, Any]]:
        items = query_all(
            self.client,
            self.name,
            {
                "TableName": self.table_name,
                "IndexName": SUBJECT_INDEX,
                "KeyConditionExpression": "#s = :s",
                "ExpressionAttributeNames": {"#s": SUBJECT_ATTRIBUTE},
                "ExpressionAttributeValues": {":s": {"S": scope.subject_id}},
                "ScanIndexForward": False,
            },
        )
        return [plain(item, ttl_attribute=self.spec.ttl_attribute) for item in items]


class ProfileStore:
    """An item keyed by the subject_id itself (the subject profile)."""

    def __init__(self, name: str, *, spec: TableSpec, table_name: str, client: Any | None = None) -> None:
        if spec.partition_key.name != SUBJECT_ATTRIBUTE or spec.sort_key is not None:
            raise ValueError(f"table {spec.key!r} is not keyed by {SUBJECT_ATTRIBUTE} alone")
        self.name = name
        self.spec = spec
        self.table_name = table_name
        self._client = client

    client = LazyClient("dynamodb")

    def _key(self, scope: SubjectScope) -> Key:
        return {SUBJECT_ATTRIBUTE: {"S": scope.subject_id}}

    def erase(self, scope: SubjectScope) -> int:
        response = calling(
            self.name,
            "DeleteItem",
            lambda: self.client.delete_item(
                TableName=self.table_name, Key=self._key(scope), ReturnValues="ALL_OLD"
            ),
        )
        return 1 if response.get("Attributes") else 0

    def _get(self, scope: SubjectScope, *, consistent: bool) -> dict[str, Any] | None:
        response = calling(
            self.name,
            "GetItem",
            lambda: self.client.get_item(
                TableName=self.table_name, Key=self._key(scope), ConsistentRead=consistent
            ),
        )
        return response.get("Item")  # type: ignore[no-any-return]

    def remaining(self, scope: SubjectScope) -> int:
        return 0 if self._get(scope, consistent=True) is None else 1

    def export(self, scope: SubjectScope) -> dict[str, Any] | None:
        item = self._get(scope, consistent=False)
        return None if item is None else plain(item, ttl_attribute=self.spec.ttl_attribute)


class DerivedKeyStore:
    """Items whose keys are computed from what other stores found (no index, no scan).

    ``keys_of(scope)`` gives ``(label, key)`` pairs: the label (an interaction ref) says, in the export,
    which of the subject's items a record belongs to. Existing items are confirmed with one strongly
    consistent ``BatchGetItem`` (100 keys a call) and deleted with ``BatchWriteItem`` (25 a call), so
    the proof counts items that existed, not requests sent.
    """

    def __init__(
        self,
        name: str,
        *,
        table_name: str,
        key_attribute: str,
        keys_of: Callable[[SubjectScope], list[tuple[str, Key]]],
        ttl_attribute: str | None = None,
        client: Any | None = None,
    ) -> None:
        self.name = name
        self.table_name = table_name
        self.key_attribute = key_attribute
        self.keys_of = keys_of
        self.ttl_attribute = ttl_attribute
        self._client = client

    client = LazyClient("dynamodb")

    def _existing(self, scope: SubjectScope, *, consistent: bool, keys_only: bool) -> list[dict[str, Any]]:
        keys = [key for _label, key in self.keys_of(scope)]
        projection = (self.key_attribute,) if keys_only else ()
        return batch_get(
            self.client, self.name, self.table_name, keys, consistent=consistent, projection=projection
        )

    def erase(self, scope: SubjectScope) -> int:
        existing = self._existing(scope, consistent=True, keys_only=True)
        return batch_delete(
            self.client,
            self.name,
            self.table_name,
            [{self.key_attribute: i[self.key_attribute]} for i in existing],
        )

    def remaining(self, scope: SubjectScope) -> int:
        return len(self._existing(scope, consistent=True, keys_only=True))

    def export(self, scope: SubjectScope) -> list[dict[str, Any]]:
        labels = {key_id(key): label for label, key in self.keys_of(scope)}
        exported = [
            {
                "of": labels.get(key_id({self.key_attribute: item[self.key_attribute]})),
                **plain(item, ttl_attribute=self.ttl_attribute),
            }
            for item in self._existing(scope, consistent=False, keys_only=False)
        ]
        return sorted(exported, key=lambda record: str(record["of"]))


class CustomerLinkStore:
    """A subject's place in a customer (``socialcrm.customers.store``): its own partition (the owner row and
    the way back to each strong identifier it carries), the link row in its customer's partition, whose key
    the owner row names, and its row under each identifier's key (no index, no scan).

    The link row goes before the owner row that leads to it, so a run that fails between the two leaves
    the owner row for the next run to follow. The owner row is read again until there is none, so a link
    made while the erasure runs is erased too, and the verification reads it once more. The customers the
    links pointed at are remembered for the run. The customer's own row (when, by whom, why it was created;
    a random id) is not the subject's: it stays, and an erasure by customer removes it.
    """

    ROUNDS = 5  # owner rows followed in one erase: each is a link made while the erasure ran

    def __init__(self, name: str, *, table_name: str, client: Any | None = None) -> None:
        self.name = name
        self.table_name = table_name
        self._client = client

    client = LazyClient("dynamodb")

    def _own_rows(self, scope: SubjectScope, *, consistent: bool) -> list[dict[str, Any]]:
        """The subject's own partition: its owner row and the way back to each strong identifier it carries."""
        request = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"s#{scope.subject_id}"}},
            "ConsistentRead": consistent,
        }
        rows = list(query_all(self.client, self.name, request))
        scope.remember(self.name, rows, ("pk", "sk"))
        return rows

    def _keys(self, scope: SubjectScope, *, consistent: bool) -> list[Key]:
        """Every row of the subject's own partition seen in this run (owner, marks, the way back to its
        keys), and the rows they lead to: its link in its customer's partition, its row under each key."""
        from socialcrm.customers.store import carrier_key, link_key

        self._own_rows(scope, consistent=consistent)
        own = [item for item in scope.seen(self.name) if item["pk"]["S"] == f"s#{scope.subject_id}"]
        subject = scope.subject_id
        keys = [
            *({"pk": item["pk"], "sk": item["sk"]} for item in own),
            *(link_key(item["customer_id"]["S"], subject) for item in own if "customer_id" in item),
            *(carrier_key(item["identity_key"]["S"], subject) for item in own if "identity_key" in item),
        ]
        return list({key_id(key): key for key in keys}.values())

    def _existing(self, scope: SubjectScope, *, consistent: bool) -> list[dict[str, Any]]:
        keys = self._keys(scope, consistent=consistent)
        return batch_get(self.client, self.name, self.table_name, keys, consistent=consistent)

    def erase(self, scope: SubjectScope) -> int:
        erased = 0
        for _round in range(self.ROUNDS):
            existing = self._existing(scope, consistent=True)
            if not existing:
                return erased
            # what the subject's own rows lead to (its links, its carried keys) first, then those rows
            own = f"s#{scope.subject_id}"
            links = [{"pk": i["pk"], "sk": i["sk"]} for i in existing if i["pk"]["S"] != own]
            owners = [{"pk": i["pk"], "sk": i["sk"]} for i in existing if i["pk"]["S"] == own]
            erased += batch_delete(self.client, self.name, self.table_name, links)
            erased += batch_delete(self.client, self.name, self.table_name, owners)
        return erased  # still linking after ROUNDS: the verification finds what is left, and the run fails

    def remaining(self, scope: SubjectScope) -> int:
        return len(self._existing(scope, consistent=True))

    def export(self, scope: SubjectScope) -> list[dict[str, Any]]:
        found = [plain(item, ttl_attribute="expires_at") for item in self._existing(scope, consistent=False)]
        return sorted(found, key=lambda record: (str(record["pk"]), str(record["sk"])))


class CustomerRows:
    """An erasure by customer: the customer's own partition (its row, its links, the notes of identities
    unlinked), after every linked subject's stores are erased. The run adds to the request every identity
    linked since it was made (``identities``) and erases it first; a link made in the moment between that
    look and this deletion goes with its owner row (the customer no longer exists, so neither does the
    link), and that one identity's own data stays."""

    name = "customers"

    def __init__(self, *, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    client = LazyClient("dynamodb")

    def _rows(self, customer_id: str) -> list[dict[str, Any]]:
        request = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"c#{customer_id}"}},
            "ConsistentRead": True,
            "ProjectionExpression": "pk, sk",
        }
        return list(query_all(self.client, self.name, request))

    def erase(self, customer_id: str) -> int:
        from socialcrm.customers.store import owner_key

        rows = self._rows(customer_id)
        linked = [row["sk"]["S"][2:] for row in rows if row["sk"]["S"].startswith("i#")]
        owners = batch_get(
            self.client, self.name, self.table_name, [owner_key(s) for s in linked], consistent=True
        )
        ours = [
            {"pk": o["pk"], "sk": o["sk"]} for o in owners if o.get("customer_id", {}).get("S") == customer_id
        ]
        links = [{"pk": r["pk"], "sk": r["sk"]} for r in rows if r["sk"]["S"] != "customer"]
        # the links and notes first, then the owners, then the customer's row: a failure leaves the row
        # that names the customer, for the next run to find everything by
        main = [{"pk": r["pk"], "sk": r["sk"]} for r in rows if r["sk"]["S"] == "customer"]
        erased = 0
        try:
            for keys in (links, ours, main):
                erased += batch_delete(self.client, self.name, self.table_name, keys)
        except StoreFailure as failure:
            raise partial(failure, erased + failure.erased) from failure
        return erased

    def remaining(self, customer_id: str) -> int:
        return len(self._rows(customer_id))

    def identities(self, customer_id: str) -> list[str]:
        """The subject ids linked to the customer now."""
        return [row["sk"]["S"][2:] for row in self._rows(customer_id) if row["sk"]["S"].startswith("i#")]


def _recent(scope: SubjectScope, store: IndexedStore, days: int) -> list[dict[str, Any]]:
    """The items ``store`` found for the subject (this pass and earlier ones) received in the last ``days``
    days (plus one of margin): only those can still have records that expire after ``days``."""
    store.found(scope)
    horizon = scope.now - timedelta(days=days + 1)
    recent = []
    for item in scope.seen(store.name):
        received = item.get("received_at", {}).get("S")
        if received is None or datetime.fromisoformat(received) >= horizon:
            recent.append(item)
    return recent


def report_fact_keys(interactions: IndexedStore, cases: IndexedStore | None):  # type: ignore[no-untyped-def]
    """``keys_of`` for the report consumer's seen-markers of the subject's facts: the digests it keys them
    by, from the subject's interaction refs and case rows. A case's keys come from
    ``socialcrm.reporting.facts.case_fact_keys`` and its row's ``body``: one per next-response round and
    one per reopening besides those keyed by the case id alone."""

    def case_keys(scope: SubjectScope) -> dict[str, set[str]]:
        """case id -> the fact keys of the case, from the bodies of the rows the cases store found (a case
        row and a row per team, each carrying the whole case; the store remembers ``body``). The rows
        stay in the scope after they are deleted, so the verification computes the same keys."""
        assert cases is not None
        keys: dict[str, set[str]] = {}
        for row in scope.seen(cases.name):
            case_id = row.get("case_ref", {}).get("S")
            if case_id:
                keys.setdefault(case_id, set()).update(case_fact_keys(case_id, plain(row).get("body")))
        return keys

    def keys_of(scope: SubjectScope) -> list[tuple[str, Key]]:
        ids = [
            item["interaction_ref"]["S"]
            for item in _recent(scope, interactions, RETENTION_DAYS["report_seen"])
        ]
        pairs = [(iid, fact_key("interaction", iid)) for iid in ids]
        if cases is not None:
            cases.found(scope)
            pairs += [
                (case_id, key) for case_id, found in sorted(case_keys(scope).items()) for key in sorted(found)
            ]
        return [(label, {"fact": {"S": digest}}) for label, digest in pairs]

    return keys_of


@dataclass(frozen=True)
class StoreRegistry:
    """The personal-data stores, in erasure order (report markers before the interactions and cases whose
    ids compute their keys, then the profile, then the dead-letter queues)."""

    stores: tuple[PersonalDataStore, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(store.name for store in self.stores)

    def export(self, scope: SubjectScope) -> dict[str, Any]:
        """Everything every store holds about the subject, keyed by store name."""
        return {store.name: store.export(scope) for store in self.stores}


def build_stores(
    table_names: dict[str, str],
    client: Any | None = None,
    *,
    dlq_urls: dict[str, str],
    sqs_client: Any | None = None,
    dlq_wait_seconds: int = 1,
) -> StoreRegistry:
    """The registry over the deployed tables (``table_names`` keyed like ``topology.TABLES``) and
    dead-letter queues (``dlq_urls`` keyed like ``PERSONAL_DATA_QUEUES``).

    Order matters: a store that derives keys from another store's findings comes before it (the report
    markers before the interactions and cases whose ids compute their keys, the brand's replies listed by
    the subject's cases before those cases, the subject's messages listed on other people's cases). A table holding personal
    data and indexed ``by_subject`` plugs in as one ``IndexedStore``.

    >>> import boto3
    >>> dynamodb = boto3.client("dynamodb", region_name="eu-west-1")  # no call is made
    >>> build_stores({k: k for k in PERSONAL_DATA_TABLES}, dynamodb,
    ...              dlq_urls={k: k for k in PERSONAL_DATA_QUEUES}).names
    ('report_seen', 'brand_replies', 'shared_cases', 'cases', 'interactions', 'subjects', 'customers', 'inbound-dlq', 'route-dlq', 'report-dlq')
    """
    missing = sorted(set(PERSONAL_DATA_TABLES) - set(table_names))
    if missing:
        raise ConfigurationError(f"the privacy stores need the names of these tables: {', '.join(missing)}")
    missing = sorted(set(PERSONAL_DATA_QUEUES) - set(dlq_urls))
    if missing:
        raise ConfigurationError(f"the privacy stores need the URLs of these queues: {', '.join(missing)}")
    interactions = IndexedStore(
        "interactions",
        spec=TABLES["interactions"],
        table_name=table_names["interactions"],
        remember=("received_at", "conversation_ref"),
        client=client,
    )
    cases = IndexedStore(
        "cases",
        spec=TABLES["cases"],
        table_name=table_names["cases"],
        remember=("case_ref", "body"),
        client=client,
    )
    brand_replies = DerivedKeyStore(
        "brand_replies",
        table_name=table_names["interactions"],
        key_attribute=TABLES["interactions"].partition_key.name,
        keys_of=brand_reply_keys(cases),
        ttl_attribute=TABLES["interactions"].ttl_attribute,
        client=client,
    )
    report_seen = DerivedKeyStore(
        "report_seen",
        table_name=table_names["report_seen"],
        key_attribute=TABLES["report_seen"].partition_key.name,
        keys_of=report_fact_keys(interactions, cases),
        ttl_attribute=TABLES["report_seen"].ttl_attribute,
        client=client,
    )
    profile = ProfileStore(
        "subjects", spec=TABLES["subjects"], table_name=table_names["subjects"], client=client
    )
    queues = tuple(
        DeadLetterStore(key, queue_url=dlq_urls[key], client=sqs_client, wait_seconds=dlq_wait_seconds)
        for key in PERSONAL_DATA_QUEUES
    )
    shared_cases = SharedCaseEntries(
        interactions=interactions, table_name=table_names["cases"], client=client
    )
    links = CustomerLinkStore("customers", table_name=table_names["customers"], client=client)
    return StoreRegistry(
        (report_seen, brand_replies, shared_cases, cases, interactions, profile, links, *queues)
    )


def dlq_environment_names() -> dict[str, str]:
    """The environment variable of each erased DLQ's URL (``PERSONAL_DATA_QUEUES`` → ``<KEY>_DLQ_URL``)."""
    by_dlq = {spec.dlq_key: spec.dlq_env_var for spec in QUEUES.values()}
    return {key: by_dlq[key] for key in PERSONAL_DATA_QUEUES}
