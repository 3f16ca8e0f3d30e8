"""Amazon SP-API Orders v0 read from Amazon's own sample answers (tests/fixtures/amazon): the
order and its items become OrderHub's details with amounts and currency; statuses map; items
and orders page with NextToken; poll events are keyed by the order's version; 429 waits
follow Amazon's headers or documented rates; the store's secret names what is missing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.adapters.amazon_orders import AmazonRecentOrders, Answer, SpApiFailure
from chalicelib.api.amazon_poll import AMAZON_WINDOWS
from chalicelib.channels import amazon_orders as sp
from chalicelib.channels.amazon import STATUSES
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import PlatformStatus
from chalicelib.domain.polling import (
    IncrementalResult,
    PlatformCredentialsRejected,
    PlatformRequestRejected,
    PlatformUnavailable,
    Window,
    poll_increments,
)
from chalicelib.domain.ports import Store
from tests.conftest import fixture_json
from tests.unit.test_polling_cursors import FakeCursors

ORDER = fixture_json("amazon/getOrder_sandbox200.json")
ITEMS = fixture_json("amazon/getOrderItems_sandbox200.json")
PENDING_ORDER = fixture_json("amazon/getOrder_example.json")
PAGED_ITEMS = fixture_json("amazon/getOrderItems_example.json")
ORDERS = fixture_json("amazon/getOrders_sandbox200.json")
PAGE_1 = fixture_json("amazon/getOrders_sandbox200_next_token_page1.json")
PAGE_2 = fixture_json("amazon/getOrders_sandbox200_next_token_page2.json")
# the OrderStatus enum of models/orders-api-model/ordersV0.json (Order.OrderStatus)
SCHEMA_STATUSES = (
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "Canceled",
    "Unfulfillable",
    "InvoiceUnconfirmed",
    "PendingAvailability",
)
STORE = Store("amazon", "A1ORDERHUBDEV0", "orderhub/stores/amazon/A1ORDERHUBDEV0")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def details(order: Any = ORDER, items: Any = ITEMS) -> Any:
    order_id = order["payload"]["AmazonOrderId"]
    return sp.order_details(sp.order_payload(order, order_id), sp.items_page(items)[0])


def test_the_sandbox_order_and_its_items_are_booked_with_amounts_and_currency():
    got = details()
    assert got.status is PlatformStatus.PAID  # Unshipped
    assert got.updated_at == datetime(1970, 1, 19, 3, 58, 32, tzinfo=UTC)
    assert got.updated_at_raw == "1970-01-19T03:58:32Z"
    assert got.currency == "USD"
    (line,) = got.lines
    assert (line.sku, line.quantity) == ("NABetaASINB00551Q3CS", 1)
    # ItemPrice 10.00 + ItemTax 1.01 - PromotionDiscount 0.00: what the buyer pays
    assert line.unit_price == Decimal("11.01")
    # ... which is Amazon's own OrderTotal for the order: the reconciliation compares it
    total = Decimal(ORDER["payload"]["OrderTotal"]["Amount"])
    assert sum(li.unit_price * li.quantity for li in got.lines) == total
    assert got.buyer is None  # no ShippingAddress without a Restricted Data Token


def test_the_documented_example_reads_every_item_with_shipping_and_the_buyer():
    got = details(PENDING_ORDER, PAGED_ITEMS)
    assert got.status is PlatformStatus.UNPAID  # Pending
    assert got.currency == "JPY"
    lines = {li.sku: (li.quantity, li.unit_price) for li in got.lines}
    # CBA_OTF_1: ItemPrice 25.99 + ShippingPrice 1.26 for one unit
    # CBA_OTF_5: ItemPrice 17.95 for two units (ItemPrice is the price x quantity)
    assert lines == {"CBA_OTF_1": (1, Decimal("27.25")), "CBA_OTF_5": (2, Decimal("8.975"))}
    assert got.buyer is not None
    assert got.buyer.name == "Michigan address" and got.buyer.email == "user@example.com"
    assert got.buyer.address == "1 Cross St., Canton, MI, 48817, US"


def test_items_page_with_next_token():
    items, token = sp.items_page(PAGED_ITEMS)
    assert len(items) == 2 and token == "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"
    assert sp.items_page(ITEMS)[1] is None
    assert sp.items_path("903-1671087-0812628", token) == (
        "/orders/v0/orders/903-1671087-0812628/orderItems?NextToken=2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"
    )
    assert sp.items_path("903-1671087-0812628", None).endswith("/orderItems")


@pytest.mark.parametrize(
    ("amazon", "ours"),
    [
        ("Pending", PlatformStatus.UNPAID),
        ("PendingAvailability", PlatformStatus.UNPAID),
        ("Unshipped", PlatformStatus.PAID),
        ("PartiallyShipped", PlatformStatus.PAID),
        ("Shipped", PlatformStatus.SHIPPED),
        ("InvoiceUnconfirmed", PlatformStatus.SHIPPED),
        ("Canceled", PlatformStatus.CANCELLED),
        ("Unfulfillable", PlatformStatus.CANCELLED),
    ],
)
def test_every_order_status_maps(amazon, ours):
    order = copy.deepcopy(ORDER)
    order["payload"]["OrderStatus"] = amazon
    assert details(order).status is ours


def test_the_map_covers_exactly_the_v0_models_statuses():
    assert set(STATUSES) == set(SCHEMA_STATUSES)


def test_an_unknown_status_names_the_field():
    order = copy.deepcopy(ORDER)
    order["payload"]["OrderStatus"] = "Lost"
    with pytest.raises(InvalidPayload, match=r"\$\.payload\.OrderStatus 'Lost' is not one of"):
        details(order)


def test_items_of_one_sku_merge_and_cancelled_items_hold_nothing():
    items = copy.deepcopy(ITEMS)
    (item,) = items["payload"]["OrderItems"]
    second = {**copy.deepcopy(item), "OrderItemId": "2", "QuantityOrdered": 2}
    second["ItemPrice"] = {"CurrencyCode": "USD", "Amount": "20.00"}
    second["ItemTax"] = {"CurrencyCode": "USD", "Amount": "2.02"}
    gone = {**copy.deepcopy(item), "OrderItemId": "3", "SellerSKU": "GONE", "QuantityOrdered": 0}
    items["payload"]["OrderItems"] = [item, second, gone]
    (line,) = details(items=items).lines
    assert (line.sku, line.quantity, line.unit_price) == (
        "NABetaASINB00551Q3CS",
        3,
        Decimal("11.01"),
    )


def test_discounts_are_taken_off():
    items = copy.deepcopy(ITEMS)
    item = items["payload"]["OrderItems"][0]
    item["PromotionDiscount"] = {"CurrencyCode": "USD", "Amount": "1.00"}
    item["ShippingPrice"] = {"CurrencyCode": "USD", "Amount": "3.00"}
    item["ShippingDiscount"] = {"CurrencyCode": "USD", "Amount": "3.00"}
    assert details(items=items).lines[0].unit_price == Decimal("10.01")


def test_mixed_currencies_and_bad_amounts_are_refused_naming_the_field():
    items = copy.deepcopy(ITEMS)
    items["payload"]["OrderItems"][0]["ItemTax"]["CurrencyCode"] = "EUR"
    with pytest.raises(InvalidPayload, match="mix currencies: EUR, USD"):
        details(items=items)
    items = copy.deepcopy(ITEMS)
    items["payload"]["OrderItems"][0]["ItemPrice"]["Amount"] = "ten"
    with pytest.raises(InvalidPayload, match=r"OrderItems\[0\]\.ItemPrice\.Amount"):
        details(items=items)


def test_a_pending_orders_items_have_no_prices_yet():
    """Amazon's note: getOrderItems gives no pricing while the order is Pending."""
    items = copy.deepcopy(ITEMS)
    for key in ("ItemPrice", "ItemTax", "PromotionDiscount"):
        del items["payload"]["OrderItems"][0][key]
    order = copy.deepcopy(ORDER)
    order["payload"]["OrderStatus"] = "Pending"
    got = details(order, items)
    assert got.lines[0].unit_price == Decimal("0") and got.currency == "USD"  # OrderTotal's
    del order["payload"]["OrderTotal"]
    assert details(order, items).currency == ""


def test_an_answer_for_another_order_is_refused():
    with pytest.raises(InvalidPayload, match="not the order asked for"):
        sp.order_payload(ORDER, "111-0000000-0000000")


# ---- getOrders and the poll --------------------------------------------------------------


def test_poll_events_are_thin_and_keyed_by_the_orders_version():
    orders, token = sp.orders_page(ORDERS)
    assert token is None and len(orders) == 2
    first = sp.poll_event(orders[0], 0, STORE.store_id, NOW)
    assert first is not None
    assert (
        first.event_key
        == "amazon#A1ORDERHUBDEV0#902-1845936-5435065:Unshipped:1970-01-19T03:58:32Z"
    )
    assert first.complete is False and first.lines == () and first.status is PlatformStatus.PAID
    assert first.order_key == "amazon#A1ORDERHUBDEV0#902-1845936-5435065"
    again = sp.poll_event(copy.deepcopy(orders[0]), 0, STORE.store_id, NOW + timedelta(hours=1))
    assert again is not None and again.event_key == first.event_key  # re-read: same key
    afn = {**orders[0], "FulfillmentChannel": "AFN"}
    assert sp.poll_event(afn, 0, STORE.store_id, NOW) is None


def test_the_orders_query_carries_its_filters_on_every_page():
    path = sp.orders_path(NOW - timedelta(minutes=30), NOW, ("ATVPDKIKX0DER", "A2EUQ1WTGCTBG"), "t")
    assert path.startswith("/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER%2CA2EUQ1WTGCTBG&")
    assert "LastUpdatedAfter=2026-12-07T11%3A30%3A00Z" in path
    assert "LastUpdatedBefore=2026-12-07T12%3A00%3A00Z" in path
    assert "FulfillmentChannels=MFN" in path and "MaxResultsPerPage=100" in path
    assert path.endswith("&NextToken=t")


@pytest.mark.parametrize(
    ("operation", "headers", "wait"),
    [
        (sp.GET_ORDER, {"Retry-After": "3"}, 3.0),
        (sp.GET_ORDER, {"x-amzn-RateLimit-Limit": "0.5"}, 2.0),
        (sp.GET_ORDER_ITEMS, {"X-Amzn-RateLimit-Limit": "5.0"}, 0.2),
        (sp.GET_ORDER, {}, 2.0),  # documented: 0.5 per second
        (sp.GET_ORDERS, {"x-amzn-RateLimit-Limit": "junk"}, 1 / 0.0167),
    ],
)
def test_a_429_waits_as_amazon_says(operation, headers, wait):
    assert sp.rate_wait(operation, headers) == pytest.approx(wait)


def test_the_secret_names_what_is_missing_and_marketplaces_default():
    creds, missing = sp.sp_api_credentials({"lwa_client_id": "c", "refresh_token": ""})
    assert creds is None and missing == ["lwa_client_secret", "refresh_token"]
    full = {"lwa_client_id": "c", "lwa_client_secret": "s", "refresh_token": "r"}
    creds, _ = sp.sp_api_credentials(full)
    assert creds is not None and creds.marketplace_ids == ("ATVPDKIKX0DER",)
    secret = {**full, "lwa_client_secret": "sec-XYZ", "refresh_token": "Atzr|tok-XYZ"}
    assert "XYZ" not in repr(sp.sp_api_credentials(secret)[0])
    creds, _ = sp.sp_api_credentials({**full, "marketplace_ids": "A1PA6795UKMFR9, APJ6JRA9NG5V4"})
    assert creds is not None and creds.marketplace_ids == ("A1PA6795UKMFR9", "APJ6JRA9NG5V4")
    rotated, _ = sp.sp_api_credentials({**full, "refresh_token": "r2"})
    assert rotated is not None and rotated.cache_key != creds.cache_key


class FakeSecrets:
    def __init__(self, secret: dict[str, Any]) -> None:
        self.secret = secret

    def get_secret(self, name: str) -> dict[str, Any]:
        return self.secret


SECRETS = FakeSecrets({"lwa_client_id": "c", "lwa_client_secret": "s", "refresh_token": "r"})


class PagedClient:
    """getOrders answered from Amazon's NextToken sandbox pages."""

    def __init__(self, fail: SpApiFailure | None = None) -> None:
        self.paths: list[str] = []
        self.fail = fail

    def get(self, store: Store, credentials: Any, path: str, operation: str) -> Answer:
        self.paths.append(path)
        if self.fail is not None:
            raise self.fail
        page = PAGE_2 if "NextToken=" in path else PAGE_1
        return Answer("{...}", page)


class Sink:
    def __init__(self) -> None:
        self.queued: list[str] = []

    def queue(self, events: Any, raw: str) -> None:
        self.queued.extend(e.event_key for e in events)

    def reject(self, rejected: Any) -> None:
        raise AssertionError(rejected)


def recent(client: Any, known: Any = lambda order_id, at: False) -> AmazonRecentOrders:
    return AmazonRecentOrders(SECRETS, client, STORE, known, lambda: NOW)  # type: ignore[arg-type]


def test_the_poll_follows_next_token_and_keeps_the_filters():
    client = PagedClient()
    window = Window(NOW - timedelta(minutes=30), NOW - timedelta(minutes=3))
    batches = list(recent(client).batches(window))
    assert [len(b.events) for b in batches] == [1, 1]
    assert len(client.paths) == 2 and "NextToken" not in client.paths[0]
    assert "LastUpdatedAfter=" in client.paths[1] and "NextToken=2YgY" in client.paths[1]


def test_versions_orderhub_holds_are_not_queued():
    held = {("902-3159896-1390916", datetime(2017, 1, 20, 19, 49, 35, tzinfo=UTC))}
    source = recent(PagedClient(), lambda order_id, at: (order_id, at) in held)
    window = Window(NOW - timedelta(minutes=30), NOW - timedelta(minutes=3))
    assert [len(b.events) for b in source.batches(window)] == [0, 0]
    assert source.skipped == 2


@pytest.mark.parametrize(
    ("kind", "raised"),
    [
        ("credentials", PlatformCredentialsRejected),
        ("rejected", PlatformRequestRejected),
        ("not_found", PlatformRequestRejected),
        ("unavailable", PlatformUnavailable),
    ],
)
def test_poll_failures_map_to_the_pollers_outcomes(kind, raised):
    window = Window(NOW - timedelta(minutes=30), NOW - timedelta(minutes=3))
    with pytest.raises(raised):
        list(recent(PagedClient(SpApiFailure(kind, "said"))).batches(window))


def test_a_store_without_lwa_fields_is_a_credentials_failure():
    source = AmazonRecentOrders(
        FakeSecrets({}), PagedClient(), STORE, lambda o, t: False, lambda: NOW
    )  # type: ignore[arg-type]
    with pytest.raises(PlatformCredentialsRejected, match="lwa_client_id"):
        list(source.batches(Window(NOW - timedelta(minutes=30), NOW)))


def test_the_cursor_moves_only_after_queueing_and_a_reread_queues_the_same_keys():
    cursors, sink = FakeCursors(), Sink()
    result = poll_increments(
        "amazon#A1ORDERHUBDEV0", cursors, recent(PagedClient()), sink, NOW, AMAZON_WINDOWS
    )
    assert isinstance(result, IncrementalResult) and result.caught_up
    first_window, last_window = result.windows
    # a new store looks back 1 h from the settle lag, less the 1 minute overlap; windows are
    # at most 1 h and each starts a minute before the previous one ended
    assert first_window.start == NOW - timedelta(hours=1, minutes=4)
    assert first_window.end == NOW - timedelta(minutes=4)
    assert last_window.start == NOW - timedelta(minutes=5)
    assert last_window.end == NOW - timedelta(minutes=3)  # settle lag: Amazon wants >= 2 min
    assert cursors.stored["amazon#A1ORDERHUBDEV0"].position == last_window.end
    first = list(sink.queued)
    # a lost cursor write reads the window again: the same keys, so booking dedupes them
    cursors.stored.clear()
    poll_increments(
        "amazon#A1ORDERHUBDEV0", cursors, recent(PagedClient()), sink, NOW, AMAZON_WINDOWS
    )
    assert sink.queued[len(first) :] == first


def test_a_failed_page_leaves_the_cursor_where_it_was():
    cursors, sink = FakeCursors(), Sink()

    class FailsSecondPage(PagedClient):
        def get(self, store: Store, credentials: Any, path: str, operation: str) -> Answer:
            if "NextToken=" in path:
                raise SpApiFailure("unavailable", "429")
            return super().get(store, credentials, path, operation)

    with pytest.raises(PlatformUnavailable):
        poll_increments(
            "amazon#A1ORDERHUBDEV0", cursors, recent(FailsSecondPage()), sink, NOW, AMAZON_WINDOWS
        )
    assert cursors.stored == {}
