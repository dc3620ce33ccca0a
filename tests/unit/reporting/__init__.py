"""Reporting: facts, summaries, CSV, the page and its charts."""
