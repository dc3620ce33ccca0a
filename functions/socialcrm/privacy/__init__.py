"""Privacy: the suppression seam the enrich function asks before it stores anything, and (in the
modules of this package) erasure, access export, objections and their stores.

The seam's production answer is :class:`socialcrm.privacy.suppression.DynamoSuppressionCheck`: erasure
tombstones and objections (GDPR Art. 17 and 21) read from the suppressions table. ``NoSuppression`` is
for tests and benchmarks that measure other things.
"""

from __future__ import annotations

from typing import Protocol

from socialcrm.models import Interaction


class SuppressionCheck(Protocol):
    def suppressed(self, interaction: Interaction) -> bool: ...


class NoSuppression:
    """Suppresses nothing (tests and benchmarks of other stages)."""

    def suppressed(self, interaction: Interaction) -> bool:
        return False
