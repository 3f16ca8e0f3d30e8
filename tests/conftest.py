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


# The longest files first: with `--dist loadfile` a file runs whole on one worker, so a long file
# that happens to be scheduled last sets the suite's wall time on CI's two cores. The sort is
# stable: every other test keeps its order.
SLOW_FIRST = (
    # (xdist --dist loadfile then sorts files by test count, so the one-test fuzz file runs
    # last all the same; in collection order the whole run measured slower: 876 s vs 804-855)
    "tests/e2e/test_api_fuzz_e2e.py",
    "tests/integration/test_chaos_aws_layer.py",
    "tests/integration/test_chaos_aws_layer_more.py",
    "tests/integration/test_flash_sale_concurrency.py",
    "tests/unit/test_chaos_delivery.py",
    "tests/e2e/test_docs_examples_e2e.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(SLOW_FIRST)}

    def where(item: pytest.Item) -> int:
        path = str(item.path.relative_to(ROOT)).replace("\\", "/")
        return rank.get(path, len(rank))

    items.sort(key=where)
