"""Fixtures shared by the platform adapters' tests."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def machine_in_india(monkeypatch):
    """The process's local time zone set to UTC+05:30, as a developer's laptop in Bengaluru has it."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
