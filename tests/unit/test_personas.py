"""The personas table (socialcrm.personas): complete over the API, and the README's copy equal to it."""

from __future__ import annotations

import re
from pathlib import Path

from socialcrm.personas import PERSONAS, PUBLIC_ROUTES, markdown_table, route_keys, routes_per_persona

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_persona_names_only_routes_of_the_api():
    for persona in PERSONAS.values():
        assert persona.routes <= route_keys(), persona.name
        assert persona.routes.isdisjoint(PUBLIC_ROUTES), persona.name


def test_the_readme_shows_the_table_the_policies_are_built_from():
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- personas:begin -->\n(.*?)\n<!-- personas:end -->", text, flags=re.DOTALL)
    assert found, "the README's personas table is missing its markers"
    assert found.group(1) == markdown_table(), "run: PYTHONPATH=functions python -m socialcrm.personas"


def test_routes_per_persona_lists_each_personas_routes_sorted():
    listed = routes_per_persona()
    assert set(listed) == set(PERSONAS)
    assert all(listed[name] == sorted(PERSONAS[name].routes) for name in PERSONAS)
