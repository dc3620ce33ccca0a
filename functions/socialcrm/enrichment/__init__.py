"""Enrichment: the language and sentiment of interactions, Comprehend batched, a local identifier first.

``service.enrich`` is the domain function; ``language.LanguageIdentifier`` and
``comprehend.ComprehendAnalyser`` are its ports' production adapters; ``text.truncate_utf8`` keeps
every document inside Comprehend's 5,000-byte limit.
"""
