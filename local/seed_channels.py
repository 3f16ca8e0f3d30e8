"""`make run`: the demo stores' listing maps, and a day of orders on their platforms' lists.

- Listing maps: discovered as in AWS, through each platform's catalog search on the stubs
  (`refresh_listing_map`, the code `refresh_listings` runs every 6 hours), so a fresh stack
  pushes to every demo store at once.
- Day lists: three orders per demo marketplace store created two Beijing days ago, on the
  stubs, so a reconciliation of that day (`.venv/bin/python -m local.job reconcile <day>`)
  lists each platform's count from its API, with no statement file. Two days ago, not
  yesterday: yesterday is the planted example of local/reconcile_demo.py (JD's API list and
  Douyin's statement file), which must not gain rows. JD's list is that example's.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, date, datetime, time, timedelta
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


def demo_day(now: datetime) -> date:
    """The Beijing day the demo day lists are on: two days before `now`'s."""
    return now.astimezone(BEIJING).date() - timedelta(days=2)


def demo_orders(store: dict[str, Any], n: int, now: datetime) -> list[dict[str, Any]]:
    base = datetime.combine(demo_day(now), time(9), BEIJING).astimezone(UTC)
    return [
        {
            "id": f"{880000 + n * 10 + i}",
            "created_at": (base + timedelta(hours=i)).isoformat(),
            "status": status,
            "amount": amount,
            "currency": "CNY" if store["timezone"] == "Asia/Shanghai" else "USD",
        }
        for i, (status, amount) in enumerate(DAY_ORDERS)
    ]


def seed_day_lists(stores: list[dict[str, Any]], stub_url: str, now: datetime) -> int:
    """Three orders per demo marketplace store on the demo day's list; returns how many."""
    seeded = 0
    for n, store in enumerate(s for s in stores if s["platform"] in MARKETPLACES):
        orders = demo_orders(store, n, now)
        body = {"platform": store["platform"], "store": store["store_id"], "orders": orders}
        _post(f"{stub_url}/_stub/day-orders", body)
        seeded += len(orders)
    return seeded
