"""`make run`: the demo stores' listing maps and yesterday's order lists on their platforms.

- Listing maps: discovered as in AWS, through each platform's catalog search on the stubs
  (`refresh_listing_map`, the same code `refresh_listings` runs every 6 hours), so a fresh
  stack pushes to every demo store at once.
- Day lists: three orders per demo marketplace store created on the previous Beijing day,
  on the stubs (JD's through the pull stub's order seeding), so the nightly reconciliation
  (`make job NAME=reconcile_orders`) lists each platform's count from its API.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
MARKETPLACES = (
    "shopify",
    "woocommerce",
    "bigcommerce",
    "tiktok",
    "douyin",
    "taobao",
    "pinduoduo",
    "amazon",
)
DAY_ORDERS = (("paid", "25.00"), ("shipped", "39.90"), ("cancelled", "12.50"))


def _post(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode("utf-8"), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def yesterday_beijing(now: datetime) -> datetime:
    """09:00 Beijing on the day before `now`'s Beijing day, in UTC."""
    day = now.astimezone(BEIJING).date() - timedelta(days=1)
    return datetime.combine(day, time(9), BEIJING).astimezone(UTC)


def seed_day_lists(
    stores: list[dict[str, Any]], stub_url: str, pull_stub_url: str, now: datetime
) -> int:
    """Three orders per demo marketplace store on yesterday's list; returns how many."""
    base = yesterday_beijing(now)
    seeded = 0
    for n, store in enumerate(s for s in stores if s["platform"] in (*MARKETPLACES, "jd")):
        orders = [
            {
                "id": f"{880000 + n * 10 + i}",
                "created_at": (base + timedelta(hours=i)).isoformat(),
                "status": status,
                "amount": amount,
                "currency": "CNY" if store["timezone"] == "Asia/Shanghai" else "USD",
            }
            for i, (status, amount) in enumerate(DAY_ORDERS)
        ]
        if store["platform"] == "jd":
            states = {
                "paid": "WAIT_SELLER_STOCK_OUT",
                "shipped": "WAIT_GOODS_RECEIVE_CONFIRM",
                "cancelled": "TRADE_CANCELED",
            }
            for order in orders:
                created = datetime.fromisoformat(order["created_at"]).astimezone(BEIJING)
                stamp = created.strftime("%Y-%m-%d %H:%M:%S")
                jd_order = {
                    "orderId": order["id"],
                    "orderState": states[order["status"]],
                    "orderTotalPrice": order["amount"],
                    "orderStartTime": stamp,
                    "modified": stamp,
                    "itemInfoList": [],
                }
                _post(f"{pull_stub_url}/_stub/jd/orders", {"order": jd_order})
        else:
            _post(
                f"{stub_url}/_stub/day-orders",
                {"platform": store["platform"], "store": store["store_id"], "orders": orders},
            )
        seeded += len(orders)
    return seeded
