"""The customers table: customers, their linked identities, and each identity's one owner.

Three kinds of row, all keyed by ``pk`` and ``sk``, none holding a raw platform id:

* ``c#<customer id>`` / ``customer``: the customer (when, by whom and why it was created);
* ``c#<customer id>`` / ``i#<subject id>``: one linked identity (its platform, pseudonymous subject id,
  when, by whom and why it was linked). A customer's identities are one ``Query`` of its partition;
* ``c#<customer id>`` / ``h#<time>#<random>``: an identity unlinked (its platform, when, by whom, why;
  not which identity);
* ``k#<identity key>`` / ``s#<subject id>``: an identity carries this strong identifier (the keyed hash of
  a phone number, ``socialcrm.models.identity_keys``), and ``s#<subject id>`` / ``k#<identity key>`` the
  way back, so an erasure finds it by the subject; two identities under one key are linked
  automatically (``socialcrm.customers.linking``);
* ``s#<subject id>`` / ``apart``: a person unlinked the identity (who, when, why): no automatic link
  brings it back;
* ``s#<subject id>`` / ``owner``: the customer an identity belongs to. It is written on condition that it
  does not exist, in the same transaction as the link, so an identity belongs to at most one customer,
  and of two requests linking one identity at once, one wins and the other is told who owns it.

An erasure removes a subject's owner and link rows (``socialcrm.privacy.stores.CustomerLinkStore``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.aws import LazyClient
from socialcrm.errors import NotFoundError, SocialCrmError
from socialcrm.topology import RETENTION_DAYS

CUSTOMER_ID_PATTERN = r"^cus_[0-9a-f]{24}$"
MAX_IDENTITIES = 25  # per customer: keeps a link request inside one transaction (100 items)
ATTEMPTS = 3  # transactions that met another one on the same rows are tried again


class CustomerStoreError(SocialCrmError):
    """The customers table could not be read or written (retry the request)."""

    status = 503
    code = "customer_store_unavailable"


class IdentityLinkedError(SocialCrmError):
    """The identity already belongs to another customer: an identity has one customer at most."""

    status = 409
    code = "identity_linked"

    def __init__(self, platform: str, owner: str) -> None:
        super().__init__(
            f"This {platform} identity is already linked to customer {owner}; unlink it there first."
        )
        self.owner = owner


class TooManyIdentitiesError(SocialCrmError):
    status = 409
    code = "too_many_identities"


@dataclass(frozen=True)
class Identity:
    platform: str
    subject_id: str


@dataclass(frozen=True)
class Link:
    platform: str
    subject_id: str
    linked_at: str
    linked_by: str
    reason: str


@dataclass(frozen=True)
class Customer:
    customer_id: str
    created_at: str
    created_by: str
    reason: str
    identities: tuple[Link, ...]
    # Computed by the route consumer as the customer's messages arrive (socialcrm.routing.segments).
    segments: tuple[str, ...] = ()


def new_customer_id() -> str:
    """A random id: it says nothing about the person."""
    return f"cus_{secrets.token_hex(12)}"


def is_customer_id(value: str) -> bool:
    return re.fullmatch(CUSTOMER_ID_PATTERN, value) is not None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _expiry(at: datetime) -> dict[str, str]:
    """The TTL of a row changed at ``at``: the customers' retention from then."""
    return {"N": str(int((at + timedelta(days=RETENTION_DAYS["customers"])).timestamp()))}


def customer_key(customer_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"c#{customer_id}"}, "sk": {"S": "customer"}}


def link_key(customer_id: str, subject_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"c#{customer_id}"}, "sk": {"S": f"i#{subject_id}"}}


def carrier_key(identity_key: str, subject_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"k#{identity_key}"}, "sk": {"S": f"s#{subject_id}"}}


def carried_key(subject_id: str, identity_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"s#{subject_id}"}, "sk": {"S": f"k#{identity_key}"}}


def apart_key(subject_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"s#{subject_id}"}, "sk": {"S": "apart"}}


def owner_key(subject_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"s#{subject_id}"}, "sk": {"S": "owner"}}


class CustomerStore:
    client = LazyClient("dynamodb")

    def __init__(self, table_name: str, *, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    # -- reads ---------------------------------------------------------------------------------------

    def get(self, customer_id: str) -> Customer | None:
        """The customer and its identities (one consistent query of its partition), or None."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"c#{customer_id}"}},
            "ConsistentRead": True,
        }
        while True:
            page = self._call("Query", **request)
            items += page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        record = next((i for i in items if i["sk"]["S"] == "customer"), None)
        if record is None:
            return None
        links = tuple(
            Link(
                platform=i["platform"]["S"],
                subject_id=i["subject_id"]["S"],
                linked_at=i["linked_at"]["S"],
                linked_by=i["linked_by"]["S"],
                reason=i["reason"]["S"],
            )
            for i in items
            if i["sk"]["S"].startswith("i#")
        )
        return Customer(
            customer_id=customer_id,
            created_at=record["created_at"]["S"],
            created_by=record["created_by"]["S"],
            reason=record["reason"]["S"],
            identities=tuple(sorted(links, key=lambda link: (link.linked_at, link.subject_id))),
            segments=tuple(value["S"] for value in record.get("segments", {}).get("L", [])),
        )

    def segment_view(self, customer_id: str) -> tuple[list[tuple[str, str]], tuple[str, ...]] | None:
        """The customer's identities (platform, subject id) and stored segments (for routing); None if gone."""
        customer = self.get(customer_id)
        if customer is None:
            return None
        return [(link.platform, link.subject_id) for link in customer.identities], customer.segments

    def owner_of(self, subject_id: str) -> str | None:
        """The customer ``subject_id`` belongs to, if any."""
        item = self._call(
            "GetItem", TableName=self.table_name, Key=owner_key(subject_id), ConsistentRead=True
        ).get("Item")
        return item["customer_id"]["S"] if item else None

    def kept_apart(self, subject_id: str) -> bool:
        """Whether a person unlinked the identity: automatic links leave it alone."""
        item = self._call(
            "GetItem", TableName=self.table_name, Key=apart_key(subject_id), ConsistentRead=True
        ).get("Item")
        return item is not None

    def carriers(self, key: str) -> list[Identity]:
        """The identities that carry the strong identifier ``key`` (one consistent query of its partition)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"k#{key}"}},
            "ConsistentRead": True,
            "Limit": MAX_IDENTITIES + 1,
        }
        items = self._call("Query", **request).get("Items", [])
        return [Identity(i["platform"]["S"], i["subject_id"]["S"]) for i in items]

    # -- writes --------------------------------------------------------------------------------------

    def carry(self, key: str, identity: Identity, *, at: datetime) -> None:
        """Record that ``identity`` carries the strong identifier ``key`` (and the way back to it)."""
        common = {
            "platform": {"S": identity.platform},
            "subject_id": {"S": identity.subject_id},
            "identity_key": {"S": key},
            "expires_at": _expiry(at),
        }
        items = [
            {"Put": {"TableName": self.table_name, "Item": {**item_key, **common}}}
            for item_key in (carrier_key(key, identity.subject_id), carried_key(identity.subject_id, key))
        ]
        if self._try_transact(items) is not None:
            raise CustomerStoreError("Could not record the identity's key.")

    def set_segments(self, customer_id: str, segments: Sequence[str], *, at: datetime) -> None:
        """Store the customer's segments as of the message at ``at``; nothing happens to a customer erased
        meanwhile, nor when a newer message already stored its own."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=customer_key(customer_id),
                UpdateExpression="SET #segments = :segments, segments_at = :at",
                # never recreate an erased customer; never let an older message's view replace a newer one
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(segments_at) OR segments_at <= :at)",
                ExpressionAttributeNames={"#segments": "segments"},  # a reserved word
                ExpressionAttributeValues={
                    ":segments": {"L": [{"S": segment} for segment in segments]},
                    ":at": {"S": _iso(at)},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return
            raise CustomerStoreError("Could not store the customer's segments.") from exc
        except BotoCoreError as exc:
            raise CustomerStoreError("Could not store the customer's segments.") from exc

    def create(
        self, customer_id: str, identities: Sequence[Identity], *, reason: str, by: str, at: datetime
    ) -> None:
        """Create the customer with ``identities`` linked, all or nothing."""
        if len(identities) > MAX_IDENTITIES:
            raise TooManyIdentitiesError(f"A customer links at most {MAX_IDENTITIES} identities.")
        record = {
            **customer_key(customer_id),
            "customer_id": {"S": customer_id},
            "created_at": {"S": _iso(at)},
            "created_by": {"S": by},
            "reason": {"S": reason},
            "expires_at": _expiry(at),
            "identity_count": {"N": str(len(identities))},
        }
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": record,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        for identity in identities:
            items += self._link_items(customer_id, identity, reason=reason, by=by, at=at)
        self._transact(items, identities, offset=1)

    def link(
        self,
        customer_id: str,
        identity: Identity,
        *,
        reason: str,
        by: str,
        at: datetime,
        customer: Customer | None = None,
    ) -> bool:
        """Link ``identity``; False when it was linked to this customer already (nothing changes).
        ``customer`` is the customer as the caller just read it (else it is read here); the transaction
        checks the count and the owner itself, so an older read is safe."""
        customer = customer or self.get(customer_id)
        if customer is None:
            raise NotFoundError(f"No customer {customer_id}.")
        if any(link.subject_id == identity.subject_id for link in customer.identities):
            return False
        if len(customer.identities) >= MAX_IDENTITIES:
            raise TooManyIdentitiesError(f"A customer links at most {MAX_IDENTITIES} identities.")
        check = {  # the customer exists, has room, and lives on as long as its newest link
            "Update": {
                "TableName": self.table_name,
                "Key": customer_key(customer_id),
                "UpdateExpression": "SET expires_at = :expires ADD identity_count :one",
                "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(identity_count) "
                "OR identity_count < :most)",
                "ExpressionAttributeValues": {
                    ":expires": _expiry(at),
                    ":one": {"N": "1"},
                    ":most": {"N": str(MAX_IDENTITIES)},
                },
            }
        }
        items = [check, *self._link_items(customer_id, identity, reason=reason, by=by, at=at)]
        try:
            self._transact(items, [identity], offset=1, missing=customer_id)
        except IdentityLinkedError as exc:
            if exc.owner == customer_id:  # linked by a request that ran at the same moment
                return False
            raise
        return True

    def unlink(self, customer_id: str, identity: Identity, *, reason: str, by: str, at: datetime) -> None:
        """Remove the identity's link and ownership, and note who did it, when and why (without the
        identity: an unlinked identity leaves no trace in the customer); NotFoundError when it is not
        this customer's."""
        subject_id = identity.subject_id
        record = {
            "pk": {"S": f"c#{customer_id}"},
            "sk": {"S": f"h#{_iso(at)}#{secrets.token_hex(4)}"},
            "action": {"S": "unlinked"},
            "platform": {"S": identity.platform},
            "at": {"S": _iso(at)},
            "by": {"S": by},
            "reason": {"S": reason},
            "expires_at": _expiry(at),
        }
        apart = {  # a person separated it: no automatic link brings it back (socialcrm.customers.linking)
            **apart_key(subject_id),
            "platform": {"S": identity.platform},
            "subject_id": {"S": subject_id},
            "at": {"S": _iso(at)},
            "by": {"S": by},
            "reason": {"S": reason},
            "expires_at": _expiry(at),
        }
        items = [
            {
                "Delete": {
                    "TableName": self.table_name,
                    "Key": owner_key(subject_id),
                    "ConditionExpression": "customer_id = :customer",
                    "ExpressionAttributeValues": {":customer": {"S": customer_id}},
                }
            },
            {"Delete": {"TableName": self.table_name, "Key": link_key(customer_id, subject_id)}},
            {"Put": {"TableName": self.table_name, "Item": record}},
            {"Put": {"TableName": self.table_name, "Item": apart}},
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": customer_key(customer_id),
                    "UpdateExpression": "ADD identity_count :minus",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":minus": {"N": "-1"}},
                }
            },
        ]
        for _attempt in range(ATTEMPTS):
            reasons = self._try_transact(items)
            if reasons is None:
                return
            if "ConditionalCheckFailed" in reasons:
                raise NotFoundError(f"That identity is not linked to customer {customer_id}.")
        raise CustomerStoreError("The customer kept changing; retry.")

    # -- helpers -------------------------------------------------------------------------------------

    def _link_items(
        self, customer_id: str, identity: Identity, *, reason: str, by: str, at: datetime
    ) -> list[dict[str, Any]]:
        common = {
            "platform": {"S": identity.platform},
            "subject_id": {"S": identity.subject_id},
            "linked_at": {"S": _iso(at)},
            "expires_at": _expiry(at),
        }
        owner = {**owner_key(identity.subject_id), "customer_id": {"S": customer_id}, **common}
        link = {
            **link_key(customer_id, identity.subject_id),
            **common,
            "linked_by": {"S": by},
            "reason": {"S": reason},
        }
        return [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": owner,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": {"TableName": self.table_name, "Item": link}},
        ]

    def _transact(
        self,
        items: list[dict[str, Any]],
        identities: Sequence[Identity],
        *,
        offset: int,
        missing: str | None = None,
    ) -> None:
        """Run the transaction; a refused owner row becomes IdentityLinkedError naming its owner."""
        for _attempt in range(ATTEMPTS):
            reasons = self._try_transact(items)
            if reasons is None:
                return
            if missing is not None and reasons[0] == "ConditionalCheckFailed":
                if self.get(missing) is None:
                    raise NotFoundError(f"No customer {missing}.")
                raise TooManyIdentitiesError(f"A customer links at most {MAX_IDENTITIES} identities.")
            for n, identity in enumerate(identities):
                if reasons[offset + 2 * n] == "ConditionalCheckFailed":
                    owner = self.owner_of(identity.subject_id)
                    if owner is not None:
                        raise IdentityLinkedError(identity.platform, owner)
                    break  # unlinked since: try again
            else:
                if reasons[0] == "ConditionalCheckFailed":  # the new customer's id was taken
                    raise CustomerStoreError("Could not create the customer; retry.")
        raise CustomerStoreError("The customer kept changing; retry.")

    def _try_transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """None when the transaction ran; else each item's cancellation reason ("None" where it had none)."""
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise CustomerStoreError("Could not write the customer.") from exc
            found = exc.response.get("CancellationReasons") or []
            return [str(reason.get("Code") or "None") for reason in found] + ["None"] * (
                len(items) - len(found)
            )
        except BotoCoreError as exc:
            raise CustomerStoreError("Could not write the customer.") from exc
        return None

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        method = {"Query": self.client.query, "GetItem": self.client.get_item}[operation]
        try:
            return dict(method(**request))
        except (ClientError, BotoCoreError) as exc:
            raise CustomerStoreError("Could not read the customers.") from exc
