"""Storage fixtures: the one conformance suite runs against every backend."""

from __future__ import annotations

from tests._services import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]
