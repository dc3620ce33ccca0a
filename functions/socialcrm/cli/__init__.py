"""The ``socialcrm`` command line: ``socialcrm <group> <command> …``.

Each group is a module of this package with ``register(subparsers)`` adding its commands; every
command sets ``func(args) -> int``. Errors the user can fix are printed as one clear line (exit 2),
never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

# Command groups: module names under socialcrm.cli.
GROUPS: tuple[str, ...] = ("rules", "privacy", "cases", "secrets", "events")


class CliError(Exception):
    """A problem the user can fix; its message is printed as is."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socialcrm", description="Operate a socialcrm deployment.")
    subparsers = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    for name in GROUPS:
        import_module(f"socialcrm.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"socialcrm: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
