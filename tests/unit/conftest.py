"""Fixtures shared by the unit tests that run the real Chalice app over the fake stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.test import Client

from app import app
from chalicelib.deps import use_container
from chalicelib.domain.ports import Warehouse
from tests.fakes import with_stock
from tests.unit.test_http_api import FakeContainer


@pytest.fixture
def deps() -> Iterator[FakeContainer]:
    """The fake stack, installed as the app's container; one SKU in stock."""
    fake = FakeContainer()
    with_stock(fake.orders, "SKU-A", "w1", 5)
    fake.catalog.put_warehouse(Warehouse("w1"))  # stock goes only into known warehouses
    use_container(fake)  # type: ignore[arg-type]
    yield fake
    use_container(None)


@pytest.fixture
def client() -> Iterator[Client]:
    with Client(app) as c:
        yield c


@pytest.fixture(autouse=True)
def no_metrics_left_over() -> Iterator[None]:
    """Tests that call handlers' code directly add metrics outside any invocation; they must
    not leak into the next test's captured EMF output, whatever order the tests run in."""
    from chalicelib.observability import metrics

    metrics().clear_metrics()
    yield
    metrics().clear_metrics()
