"""Reply templates (the rules document's ``templates``): text per language with ``{placeholders}``.

A template is chosen by the language of the message answered (``pt-BR``, then ``pt``, then ``default``)
and filled from the request's params; nothing else is interpreted (``{a.b}``, ``{a[0]}``, ``{a!r}`` and
format specs are refused when the document is loaded, so a template can never reach into an object).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from socialcrm.replies.outbound import Template

if TYPE_CHECKING:
    from socialcrm.routing.rules import ReplyTemplate

_FORMATTER = string.Formatter()
MAX_PARAM_CHARS = 500


class TemplateError(ValueError):
    """A template that cannot be filled: ``field`` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def placeholders(text: str) -> list[str]:
    """The placeholder names of ``text``, sorted, each once.

    >>> placeholders("Order {order} for {name}, {order}")
    ['name', 'order']
    >>> placeholders("{a.b}")
    Traceback (most recent call last):
    ValueError: placeholder 'a.b' must be a plain name (letters, digits, _)
    """
    names: set[str] = set()
    for _literal, name, spec, conversion in _FORMATTER.parse(text):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"placeholder {name!r} must be a plain name (letters, digits, _)")
        names.add(name)
    return sorted(names)


@dataclass(frozen=True)
class Rendered:
    text: str
    language: str  # the key of the text used
    whatsapp: Template | None  # the approved template to send outside WhatsApp's window, if any


def render(template: ReplyTemplate, params: Mapping[str, str], language: str | None) -> Rendered:
    """The template's text in the message's language, filled from ``params``.

    Every placeholder needs a param (``TemplateError`` naming ``params.<name>``) and every param a
    placeholder (a typo would otherwise be sent as a sentence missing its word).
    """
    key = _language(template, language)
    text = template.text[key]
    needed = placeholders(text)
    for name in needed:
        if name not in params:
            raise TemplateError(f"params.{name}", f"The template needs params.{name}.")
        value = params[name]
        if not value.strip() or len(value) > MAX_PARAM_CHARS:
            raise TemplateError(f"params.{name}", f"params.{name} must be 1 to {MAX_PARAM_CHARS} characters.")
    for name in params:
        if name not in needed:
            raise TemplateError(f"params.{name}", f"The template has no placeholder {{{name}}}.")
    filled = text.format_map({name: params[name] for name in needed})
    whatsapp = None
    if template.whatsapp is not None:
        approved = template.whatsapp
        whatsapp = Template(
            name=approved.name,
            language=approved.language,
            params=tuple(params[name] for name in approved.params),
        )
    return Rendered(text=filled, language=key, whatsapp=whatsapp)


def _language(template: ReplyTemplate, language: str | None) -> str:
    if language:
        if language in template.text:
            return language
        base = language.split("-")[0].lower()
        if base in template.text:
            return base
    return "default"
