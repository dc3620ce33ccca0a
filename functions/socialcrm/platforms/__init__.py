"""Platform adapters, one module per platform; ``adapter_for`` maps a route segment to its adapter."""

from __future__ import annotations

from importlib import import_module

from socialcrm.errors import UnknownPlatformError
from socialcrm.platforms.base import Delivery, HandshakeReply, PlatformAdapter

# Route segment of /webhooks/{platform} → module under socialcrm.platforms.
ROUTE_PLATFORMS: tuple[str, ...] = ("meta", "x", "linkedin", "tiktok", "youtube", "generic")

__all__ = ["ROUTE_PLATFORMS", "Delivery", "HandshakeReply", "PlatformAdapter", "adapter_for"]


def adapter_for(name: str) -> PlatformAdapter:
    """The adapter of a route segment; ``UnknownPlatformError`` (404) for anything else.

    Modules are imported on first use, so a cold start pays only for the platform it serves.
    """
    if name not in ROUTE_PLATFORMS:
        raise UnknownPlatformError(f"'{name}' is not a platform this endpoint serves.")
    module = import_module(f"socialcrm.platforms.{name}")
    return module.adapter  # type: ignore[no-any-return]
