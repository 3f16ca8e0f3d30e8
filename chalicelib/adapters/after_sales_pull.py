"""Pinduoduo's and JD's after-sales lists over their signed routers
(channels/after_sales_pull.py builds and reads; `RouterTransport` carries): the
`after_sales.AfterSalesPages` of one store."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from chalicelib.adapters.pull_clients import RouterTransport
from chalicelib.channels import after_sales_pull as pull
from chalicelib.channels import jd, pinduoduo
from chalicelib.channels.pull import PullCredentials
from chalicelib.domain.after_sales import AfterSalesEvent
from chalicelib.domain.polling import Window
from chalicelib.domain.ports import Store

MAX_PAGES = 50  # per window and query: 5,000 rows in 30 minutes is far beyond a store's


def _walk(fetch: Callable[[int], pull.AfterSalesPage]) -> Iterator[Sequence[AfterSalesEvent]]:
    """Page 1 for the total, then the last page back to 1 (rows shifting while we page are
    read twice at worst, never missed: the order pollers' way)."""
    first = fetch(1)
    pages = min(MAX_PAGES, max(1, -(-first.total // pull.PAGE_SIZE)))
    if pages == 1:
        yield first.events
        return
    for number in range(pages, 0, -1):
        yield fetch(number).events


class PinduoduoAfterSales:
    def __init__(
        self,
        url: str,
        credentials: PullCredentials,
        transport: RouterTransport,
        store: Store,
        clock: Callable[[], datetime],
    ) -> None:
        self._url, self._credentials, self._transport = url, credentials, transport
        self._store, self._clock = store, clock

    def _fetch(self, window: Window, number: int) -> pull.AfterSalesPage:
        params = pull.pdd_after_sales_request(window, number, self._credentials, self._clock())
        answer = self._transport.post(self._url, params, pinduoduo.PLATFORM)
        return pull.parse_pdd_after_sales(answer.payload, self._store)

    def pages(self, window: Window) -> Iterator[Sequence[AfterSalesEvent]]:
        return _walk(lambda number: self._fetch(window, number))


class JdAfterSales:
    def __init__(
        self,
        url: str,
        credentials: PullCredentials,
        transport: RouterTransport,
        store: Store,
        clock: Callable[[], datetime],
    ) -> None:
        self._url, self._credentials, self._transport = url, credentials, transport
        self._store, self._clock = store, clock

    def _fetch(self, window: Window, number: int, by: str) -> pull.AfterSalesPage:
        params = pull.jd_after_sales_request(window, number, by, self._credentials, self._clock())
        answer = self._transport.post(self._url, params, jd.PLATFORM)
        return pull.parse_jd_after_sales(answer.payload, self._store)

    def pages(self, window: Window) -> Iterator[Sequence[AfterSalesEvent]]:
        for by in (pull.JD_BY_APPLY, pull.JD_BY_CHECK):
            yield from _walk(lambda number, by=by: self._fetch(window, number, by))  # type: ignore[misc]
