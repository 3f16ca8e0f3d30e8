"""Amazon's Orders API in memory, for tests that book Amazon notifications without HTTP.

Orders are kept as getOrder / getOrderItems answers built from Amazon's own sandbox samples
(tests/fixtures/amazon/getOrder_sandbox200.json, getOrderItems_sandbox200.json) with the
test's id, status, time and items, and `fetch` reads them through the real parser
(channels/amazon_orders.py), so what a test books is what the real adapter would."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from chalicelib.channels import amazon_orders as sp
from chalicelib.domain.details import OrderDetails, OrderNotOnPlatform
from chalicelib.domain.ports import Store
from tests.conftest import fixture_json

ORDER = fixture_json("amazon/getOrder_sandbox200.json")
ITEMS = fixture_json("amazon/getOrderItems_sandbox200.json")

Line = tuple[str, int, str]  # SellerSKU, QuantityOrdered, ItemPrice (all units)


def order_answer(order_id: str, status: str, updated: str, currency: str = "USD") -> Any:
    answer = copy.deepcopy(ORDER)
    answer["payload"].update(AmazonOrderId=order_id, OrderStatus=status, LastUpdateDate=updated)
    answer["payload"]["OrderTotal"]["CurrencyCode"] = currency
    return answer


def items_answer(order_id: str, lines: Sequence[Line], currency: str = "USD") -> Any:
    answer = copy.deepcopy(ITEMS)
    template = answer["payload"]["OrderItems"][0]
    items = []
    for n, (sku, quantity, price) in enumerate(lines):
        item = copy.deepcopy(template)
        item.update(
            OrderItemId=f"{order_id}-{n}",
            SellerSKU=sku,
            QuantityOrdered=quantity,
            ItemPrice={"CurrencyCode": currency, "Amount": price},
            ItemTax={"CurrencyCode": currency, "Amount": "0.00"},
        )
        item["PromotionDiscount"]["CurrencyCode"] = currency
        items.append(item)
    answer["payload"].update(AmazonOrderId=order_id, OrderItems=items)
    return answer


class FakeAmazonOrders:
    """`OrderDetailSource` for Amazon. `seed` one order; `default` answers for any order id
    not seeded (a test of many notifications); `fetched` lists the ids asked for."""

    def __init__(self, default: tuple[str, str, Sequence[Line]] | None = None) -> None:
        self.orders: dict[str, tuple[Any, Any]] = {}
        self.default = default
        self.fetched: list[str] = []

    def seed(
        self,
        order_id: str,
        status: str = "Unshipped",
        lines: Sequence[Line] = (("SKU-A", 2, "20.00"),),
        updated: str = "2022-11-29T19:42:04Z",
        currency: str = "USD",
    ) -> None:
        self.orders[order_id] = (
            order_answer(order_id, status, updated, currency),
            items_answer(order_id, lines, currency),
        )

    def fetch(self, store: Store, order_id: str) -> OrderDetails:
        self.fetched.append(order_id)
        if order_id not in self.orders and self.default is not None:
            self.seed(order_id, self.default[0], self.default[2], self.default[1])
        if order_id not in self.orders:
            raise OrderNotOnPlatform(f"order {order_id} does not exist (fake Amazon)")
        order, items = self.orders[order_id]
        batch, _ = sp.items_page(items)
        return sp.order_details(sp.order_payload(order, order_id), batch)
