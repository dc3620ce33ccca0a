"""Customers: one person's platform identities (subjects) linked, seen as one history.

``store.CustomerStore`` keeps the links (an identity belongs to at most one customer, enforced by a
conditional write); ``timeline.merged_page`` reads one timeline across every linked identity.
"""
