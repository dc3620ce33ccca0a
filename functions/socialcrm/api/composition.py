"""How a function composes its HTTP resolver, declared once in its handler and read by the local stack.

Each handler that serves routes declares ``COMPOSITION``: the routers it includes (each built from its
runtime) and the resolver's options. The Lambda handler builds its ``app`` from it; the local stack
(``socialcrm.local.app``) builds a local resolver from the very same declaration, so what a function
serves in AWS is what it serves on a laptop. Every resolver checks the caller of its IAM-authorised routes
(``socialcrm.api.callers.authorise``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from socialcrm.api.callers import authorise
from socialcrm.api.responses import register_error_handlers

R = TypeVar("R")


@dataclass(frozen=True)
class RouterSource:
    """One router of a function: built by ``build`` over the function's ``runtime``."""

    build: Callable[[Callable[[], Any]], Any]
    runtime: Callable[[], Any]
    prefix: str | None = None


@dataclass(frozen=True)
class Composition:
    routers: tuple[RouterSource, ...]
    options: Mapping[str, Any] = field(default_factory=dict)  # the resolver's, e.g. enable_validation

    def compose(self, resolver: R) -> R:
        """``resolver`` with every router included and the shared error handlers registered."""
        for source in self.routers:
            resolver.include_router(source.build(source.runtime), prefix=source.prefix)  # type: ignore[attr-defined]
        register_error_handlers(resolver)  # type: ignore[arg-type]
        # Every IAM-authorised route checks its caller's persona (a webhook route passes straight through).
        resolver.use([authorise])  # type: ignore[attr-defined]
        return resolver

    def runtimes(self) -> list[Callable[[], Any]]:
        return [source.runtime for source in self.routers]
