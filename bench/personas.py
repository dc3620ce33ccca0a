"""Persona figures, from the one table the policies are built from (``socialcrm.personas``).

* ``routes_per_persona``: how many API routes each persona's policy grants (the routes themselves are the
  README's table, generated from the same table).

Run on its own: ``python bench/personas.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]


def measure() -> dict[str, Any]:
    from socialcrm.personas import routes_per_persona

    return {"routes_per_persona": {name: len(routes) for name, routes in routes_per_persona().items()}}


if __name__ == "__main__":
    print(json.dumps(measure()))
