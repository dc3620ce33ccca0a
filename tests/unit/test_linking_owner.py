"""Automatic links report the sender's customer, so the route consumer does not read it again."""

from __future__ import annotations

from datetime import UTC, datetime

from socialcrm.customers.linking import link_by_keys
from socialcrm.customers.store import Identity

AT = datetime(2026, 11, 26, tzinfo=UTC)
SENDER = Identity("whatsapp", "s-sender")
OTHER = Identity("generic", "s-other")


class Store:
    """An in-memory ``LinkStore``: key carriers and each identity's customer."""

    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self.owners = dict(owners or {})
        self.keys: dict[str, list[Identity]] = {}

    def carriers(self, key: str) -> list[Identity]:
        return list(self.keys.get(key, []))

    def carry(self, key: str, identity: Identity, *, at: datetime) -> None:
        self.keys.setdefault(key, []).append(identity)

    def owner_of(self, subject_id: str) -> str | None:
        return self.owners.get(subject_id)

    def kept_apart(self, subject_id: str) -> bool:
        return False

    def create(
        self, customer_id: str, identities: list[Identity], *, reason: str, by: str, at: datetime
    ) -> None:
        for identity in identities:
            self.owners[identity.subject_id] = customer_id

    def link(self, customer_id: str, identity: Identity, *, reason: str, by: str, at: datetime) -> bool:
        self.owners[identity.subject_id] = customer_id
        return True


def test_the_outcome_names_the_senders_customer_as_the_store_holds_it_after_linking():
    # Given a sender alone with its key, a new pair, a sender joining a customer, and one already linked
    alone = Store()
    assert not link_by_keys(SENDER, ["k"], alone, at=AT).owner_known
    for owners in ({}, {OTHER.subject_id: "cu_other"}, {SENDER.subject_id: "cu_mine"}):
        store = Store(owners)
        store.keys["k"] = [OTHER]
        # When the sender's key is linked
        outcome = link_by_keys(SENDER, ["k"], store, at=AT)
        # Then the outcome's customer is the one the store now gives the sender
        assert outcome.owner_known and outcome.owner == store.owner_of(SENDER.subject_id) is not None, owners
