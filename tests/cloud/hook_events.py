"""A place test hooks record what fired, so tests can assert order and counts."""

from __future__ import annotations

EVENTS: list[str] = []
