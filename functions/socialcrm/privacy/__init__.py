"""Privacy: the suppression seam the enrich function asks before it stores anything.

Today nothing is suppressed; erasure tombstones and objections (GDPR Art. 17 and 21) fill this seam.
"""

from __future__ import annotations

from typing import Protocol

from socialcrm.models import Interaction


class SuppressionCheck(Protocol):
    def suppressed(self, interaction: Interaction) -> bool: ...


class NoSuppression:
    """Suppresses nothing: the seam's answer until erasure and objection land."""

    def suppressed(self, interaction: Interaction) -> bool:
        return False
