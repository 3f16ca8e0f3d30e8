"""Shared test setup: where the fixtures live (tests/fixtures, provenance in its SOURCES.md),
and sockets closed to unit tests."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def fixture_json(relative: str) -> Any:
    path = FIXTURES / relative
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: fixtures live in tests/fixtures (SOURCES.md)")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _no_network_in_unit_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Unit tests are pure: any socket they open is a bug."""
    if "tests/unit" not in str(request.path).replace("\\", "/"):
        yield
        return

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("unit tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield
