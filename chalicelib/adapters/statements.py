"""Where the platform's side of a reconciliation comes from (`reconcile.StatementSource`).

1. A statement file in S3 (`statements/<platform>/<store>/<YYYY-MM-DD>.csv`), when one is
   there: the platform's own export, for any platform. It wins over an API, being what
   finance settles against.
2. Else the platform's API, where an adapter exists:
   - JD: `jingdong.pop.order.search` with `dateType=1` (by creation time) over the Beijing
     day, pages of 100, through the pollers' signed transport and the store's credentials.
     Amount: `orderTotalPrice` (the goods' total before discounts, which is what OrderHub
     records: `jdPrice` x `itemTotal` per line), else that sum from `itemInfoList`.
3. Else none: the store is reported as "no platform data".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.adapters.pull_clients import RouterTransport
from chalicelib.adapters.report_store import S3StatementFiles
from chalicelib.channels import jd
from chalicelib.channels.base import id_text
from chalicelib.channels.pull import PullCredentials, pull_credentials
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.polling import PlatformUnavailable, Window
from chalicelib.domain.ports import SecretSource, Store
from chalicelib.domain.reconcile import (
    REPORT_ZONE,
    LedgerRow,
    Problems,
    Statement,
    StatementSource,
    StatementUnreadable,
    day_window,
)

MAX_PAGES = 20_000  # 2 M orders: a runaway answer must not loop for ever


def _jd_amount(order: Mapping[str, Any]) -> Decimal:
    total = order.get("orderTotalPrice")
    if total not in (None, ""):
        return Decimal(str(total).strip())
    amount = Decimal(0)
    for item in order.get("itemInfoList") or []:
        amount += Decimal(str(item.get("jdPrice") or "0")) * int(str(item.get("itemTotal") or 0))
    return amount


def jd_row(order: Any, problems: Problems) -> LedgerRow | None:
    """One `orderInfoList` entry as a ledger row; None (and a problem) if unreadable."""
    try:
        if not isinstance(order, Mapping):
            raise InvalidPayload("an order is not a JSON object")
        order_id = id_text(order, "orderId", "orderInfoList[]")
        state = str(order.get("orderState") or "")
        status = jd.STATES.get(state)
        if status is None:
            raise InvalidPayload(f"order {order_id}: orderState '{state}' is not known")
        return LedgerRow(order_id, status, _jd_amount(order), "CNY")
    except (InvalidPayload, InvalidOperation, ValueError) as exc:
        problems.add(f"JD order search: {getattr(exc, 'message', exc)}")
        return None


class JdStatement:
    """A JD store's orders created on a Beijing day, from the order search API."""

    def __init__(
        self,
        url: str,
        transport: RouterTransport,
        secrets: SecretSource,
        clock: Callable[[], datetime],
    ) -> None:
        self._url = url
        self._transport = transport
        self._secrets = secrets
        self._clock = clock

    def statement(self, store: Store, day: date) -> Statement:
        try:
            secret = self._secrets.get_secret(store.secret_name)
        except Exception as exc:  # missing or unreadable: this store fails, not the run
            raise StatementUnreadable(
                f"the store's secret {store.secret_name} could not be read: {exc}"
            ) from None
        credentials = pull_credentials(secret, store.platform)
        start, end = day_window(day)
        window = Window(start, end - timedelta(seconds=1))  # both bounds whole, inclusive
        problems = Problems()
        return Statement(
            f"JD order search (jingdong.pop.order.search, dateType=1) for {day.isoformat()}",
            self._rows(store, window, credentials, problems),
            problems,
        )

    def _rows(
        self, store: Store, window: Window, credentials: PullCredentials, problems: Problems
    ) -> Iterator[LedgerRow]:
        seen = 0
        for page in range(1, MAX_PAGES + 1):
            params = jd.search_request(
                window, page, credentials, self._clock(), str(REPORT_ZONE), jd.DATE_CREATED
            )
            answer = self._transport.post(self._url, params, jd.PLATFORM)
            result = jd.jd_answer(answer.payload)
            orders = result.get("orderInfoList") or []
            if not isinstance(orders, list):
                raise PlatformUnavailable("JD's orderInfoList is not a list")
            for order in orders:
                row = jd_row(order, problems)
                if row is not None:
                    yield row
            seen += len(orders)
            total = str(result.get("orderTotal") or "0").strip()
            if len(orders) < jd.PAGE_SIZE or (total.isdigit() and seen >= int(total)):
                return
        raise PlatformUnavailable(f"JD order search did not end within {MAX_PAGES} pages")


class StatementRouter:
    """The statement file if there is one, else the platform's API, else None."""

    def __init__(self, files: S3StatementFiles, apis: Mapping[str, StatementSource]) -> None:
        self._files = files
        self._apis = dict(apis)

    def statement(self, store: Store, day: date) -> Statement | None:
        found = self._files.statement(store, day)
        if found is not None:
            return found
        api = self._apis.get(store.platform)
        return None if api is None else api.statement(store, day)
