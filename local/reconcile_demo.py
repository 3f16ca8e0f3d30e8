"""Plant the seed's example reconciliation day into the running local stack (dev only).

    python -m local.reconcile_demo           # yesterday (Beijing), with `make run` going
    make job NAME=reconcile                   # then: the reports, and GET /reports?date=...

What it plants, for the Beijing day before today:
- JD (`jd/demo-jd`): 63 orders in the stub JD router (found by `jingdong.pop.order.search`
  by creation time, as in AWS), 61 of them booked in OrderHub; the other 2 were voided on JD
  and never synced: the report lists them as `missing`, "cancel not synced";
- Douyin (`douyin/demo-douyin`): a statement file of 102 orders in the emulator's S3
  (`statements/douyin/demo-douyin/<day>.csv`), 98 booked in OrderHub; 4 came from a
  flash-sale tool outside the standard interface: `missing`, "sale outside the standard
  interface";
- a WMS snapshot of `wh-guangzhou` equal to OrderHub's stock but 2 short of the demo SKU:
  one `count_differs` row in the inventory report.

OrderHub's side is booked through the processor's domain path (read, plan, one transaction)
with each order's platform time on that day, so the `placed_day` index dates it there.
Orders are planted from 00:00 Beijing on, hours behind the JD poller's window, so the poller
does not book the voided ones.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from local.stack import state_path
from local.stub_pull import beijing_text

SKU = "RECON-DEMO-TEA"
WAREHOUSE = "wh-guangzhou"
JD_STORE, DOUYIN_STORE = ("jd", "demo-jd"), ("douyin", "demo-douyin")
JD_ORDERS, JD_BOOKED = 63, 61
DOUYIN_ORDERS, DOUYIN_BOOKED = 102, 98
WMS_SHORT = 2


@dataclass
class Planted:
    day: date
    voided: list[str] = field(default_factory=list)  # JD: voided, never synced
    flash: list[str] = field(default_factory=list)  # Douyin: the flash-sale tool's orders
    sku: str = SKU
    warehouse: str = WAREHOUSE
    wms_short: int = WMS_SHORT


def _post_json(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _book(deps: Any, platform: str, store: str, order_id: str, at: datetime, price: str) -> None:
    from chalicelib.domain.booking import BookingContext
    from chalicelib.domain.model import Buyer, OrderEvent, OrderLine, PlatformStatus
    from chalicelib.domain.personal_data import seal_buyer
    from chalicelib.domain.ports import StoreRules
    from chalicelib.domain.processing import process_order_event

    event = OrderEvent(
        event_key=f"{platform}#{store}#recon-demo-{order_id}",
        platform=platform,
        store=store,
        order_id=order_id,
        event_type="paid",
        status=PlatformStatus.PAID,
        updated_at=at.astimezone(UTC),
        updated_at_raw=at.isoformat(),
        currency="CNY",
        lines=(OrderLine(SKU, 1, Decimal(price)),),
        buyer=Buyer("Li Lei", "13812345678", "1 Nanjing Road, Shanghai"),
        received_at=at.astimezone(UTC) + timedelta(seconds=2),
    )
    # booked past the intake, so sealed here: no buyer data in clear in the tables
    event = seal_buyer(event, deps.personal_data, StoreRules())
    result = process_order_event(
        event,
        deps.orders,
        lambda: BookingContext(now=datetime.now(UTC), warehouses=deps.warehouses()),
    )
    if result.outcome.value != "booked":
        raise RuntimeError(f"{platform}/{store} {order_id} was not booked: {result}")


def plant(deps: Any, pull_stub_url: str, day: date, token: str | None = None) -> Planted:
    """Plant the example day through `deps` (a Container on the stack's emulator)."""
    from chalicelib.domain.processing import adjust_stock
    from chalicelib.domain.reconcile import REPORT_ZONE, day_window
    from chalicelib.domain.stock_ops import Adjustment
    from chalicelib.domain.timeutil import utc_now

    run = token or uuid.uuid4().hex[:6].upper()
    planted = Planted(day)
    morning = day_window(day)[0].astimezone(REPORT_ZONE)
    receipt = Adjustment(f"recon-demo#{run}", SKU, WAREHOUSE, "receipt", 1_000, "demo stock")
    adjust_stock(receipt, deps.orders, utc_now)

    for i in range(JD_ORDERS):
        booked = i < JD_BOOKED
        order_id = f"8{run}{i:02d}" if booked else f"9{run}{i - JD_BOOKED}"
        at = morning + timedelta(minutes=5 * i)
        order = {
            "orderId": order_id,
            "orderState": "WAIT_SELLER_STOCK_OUT" if booked else "TRADE_CANCELED",
            "orderStartTime": beijing_text(at),
            "modified": beijing_text(at),
            "orderTotalPrice": "88.00",
            "itemInfoList": [{"outerSkuId": SKU, "itemTotal": "1", "jdPrice": "88.00"}],
        }
        _post_json(f"{pull_stub_url}/_stub/jd/orders", {"order": order})
        if booked:
            _book(deps, *JD_STORE, order_id, at, "88.00")
        else:
            planted.voided.append(order_id)

    lines = ["order_id,status,amount,currency"]
    for i in range(DOUYIN_ORDERS):
        booked = i < DOUYIN_BOOKED
        order_id = f"69{run}{i:03d}" if booked else f"FS{run}{i - DOUYIN_BOOKED}"
        lines.append(f"{order_id},paid,19.90,CNY")
        if booked:
            _book(deps, *DOUYIN_STORE, order_id, morning + timedelta(minutes=3 * i), "19.90")
        else:
            planted.flash.append(order_id)
    s3, bucket = deps.s3, deps.settings.report_bucket
    s3.put_object(
        Bucket=bucket,
        Key=f"statements/douyin/demo-douyin/{day.isoformat()}.csv",
        Body=("\n".join(lines) + "\n").encode(),
        ContentType="text/csv",
    )

    stock = [s for s in deps.orders.all_stock() if s.warehouse == WAREHOUSE]
    counted = {s.sku: s.on_hand - (WMS_SHORT if s.sku == SKU else 0) for s in stock}
    s3.put_object(
        Bucket=bucket,
        Key=f"wms-snapshots/{WAREHOUSE}/{day.isoformat()}.csv",
        Body=("sku,on_hand\n" + "".join(f"{k},{v}\n" for k, v in counted.items())).encode(),
        ContentType="text/csv",
    )
    return planted


def main() -> int:
    state_file = state_path()
    if not state_file.exists():
        print("the local stack is not running: start it with `make run`", file=sys.stderr)
        return 1
    state = json.loads(state_file.read_text())
    os.environ.update(state["environment"])

    from chalicelib.deps import Container
    from chalicelib.domain.reconcile import previous_day

    day = previous_day(datetime.now(UTC))
    planted = plant(Container(), state["pull_stub_url"], day)
    print(
        f"planted {day.isoformat()} (Beijing): JD {JD_ORDERS} on the platform, {JD_BOOKED} in "
        f"OrderHub (voided, never synced: {', '.join(planted.voided)}); Douyin "
        f"{DOUYIN_ORDERS} in its statement, {DOUYIN_BOOKED} in OrderHub (flash sale: "
        f"{', '.join(planted.flash)}); WMS {WAREHOUSE} {WMS_SHORT} short of {SKU}\n"
        f"next: make job NAME=reconcile, then GET {state['api_url']}/reports?date="
        f"{day.isoformat()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
