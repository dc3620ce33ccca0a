"""Automatic links from strong identifiers: two identities that carry the same phone number are one person.

A message's strong identifiers arrive as keyed hashes (``Interaction.identity_keys``: a WhatsApp sender's
number, the phone number a ``generic`` sender gives). When the route consumer handles a customer message
it records that the sender carries each key, and links the sender with every other identity that carries
it:

* neither has a customer: a new customer of the two;
* one has: the other joins it;
* both have, the same: nothing; different customers: nothing either (two customers are never merged
  automatically: a person decides);
* a person unlinked either of them once: nothing (the unlink left a mark, ``CustomerStore.kept_apart``).

A key carried by more than ``MAX_CARRIERS`` identities is a shared number (a shop's switchboard, a family
phone): nothing is linked through it. Each link names ``AUTO_LINKER`` and the reason ``auto:phone``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from socialcrm.customers.store import Identity, IdentityLinkedError, TooManyIdentitiesError, new_customer_id
from socialcrm.errors import NotFoundError
from socialcrm.observability import logger

AUTO_LINKER = "socialcrm (same phone number)"
AUTO_REASON = "auto:phone"
MAX_CARRIERS = 5


class LinkStore(Protocol):
    def carriers(self, key: str) -> list[Identity]: ...

    def carry(self, key: str, identity: Identity, *, at: datetime) -> None: ...

    def owner_of(self, subject_id: str) -> str | None: ...

    def kept_apart(self, subject_id: str) -> bool: ...

    def create(
        self, customer_id: str, identities: list[Identity], *, reason: str, by: str, at: datetime
    ) -> None: ...

    def link(self, customer_id: str, identity: Identity, *, reason: str, by: str, at: datetime) -> bool: ...


@dataclass
class Linked:
    created: int = 0  # customers created for two identities
    joined: int = 0  # identities added to an existing customer
    conflicts: int = 0  # both already belonged to different customers: left for a person
    kept_apart: int = 0  # a person unlinked one of them: never linked again automatically
    # The identity's customer after linking, as read or written (None: none); unknown without a pair.
    owner: str | None = None
    owner_known: bool = False

    def found(self, owner: str | None) -> None:
        self.owner, self.owner_known = owner, True


def link_by_keys(identity: Identity, keys: list[str], store: LinkStore, *, at: datetime) -> Linked:
    """Record the identity's keys and link it with every other identity that carries one of them."""
    outcome = Linked()
    for key in keys:
        carriers = store.carriers(key)
        if identity not in carriers:
            store.carry(key, identity, at=at)
            carriers = [*carriers, identity]
        if len(carriers) > MAX_CARRIERS:
            logger.info("shared identity key: not linked", carriers=len(carriers))
            continue
        for other in carriers:
            if other.subject_id != identity.subject_id:
                _link_pair(identity, other, store, at=at, outcome=outcome)
    return outcome


def _link_pair(
    identity: Identity, other: Identity, store: LinkStore, *, at: datetime, outcome: Linked
) -> None:
    for attempt in range(2):  # a link made by someone else meanwhile: look again once
        mine, theirs = store.owner_of(identity.subject_id), store.owner_of(other.subject_id)
        outcome.found(mine)
        if mine is not None and theirs is not None:  # linked already (the usual case), or a conflict
            if mine != theirs:
                outcome.conflicts += 1
                logger.info("identities with one key belong to two customers: left as they are")
            return
        if attempt == 0 and (store.kept_apart(identity.subject_id) or store.kept_apart(other.subject_id)):
            outcome.kept_apart += 1
            return
        try:
            if mine is None and theirs is None:
                created = new_customer_id()
                store.create(created, [other, identity], reason=AUTO_REASON, by=AUTO_LINKER, at=at)
                outcome.created += 1
                outcome.found(created)
            elif mine is not None:
                outcome.joined += store.link(mine, other, reason=AUTO_REASON, by=AUTO_LINKER, at=at)
            else:
                assert theirs is not None
                outcome.joined += store.link(theirs, identity, reason=AUTO_REASON, by=AUTO_LINKER, at=at)
                outcome.found(theirs)
            return
        except (IdentityLinkedError, NotFoundError):
            outcome.owner_known = False  # someone else linked one of them meanwhile: look again
            continue
        except TooManyIdentitiesError:
            logger.info("customer full: identity not linked automatically")
            return
