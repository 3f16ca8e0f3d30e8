"""HTTP clients of the pull platforms' router APIs (Taobao TOP/TMC, Pinduoduo, JD).

`RouterTransport` POSTs form-encoded, signed parameters to a router URL (configuration:
ORDERHUB_TAOBAO_API_URL, ORDERHUB_PDD_API_URL, ORDERHUB_JD_API_URL; locally the stub
platforms of local/stub_pull.py) and returns the answer's text and JSON. Transport failures
become domain errors here: refused connections, timeouts, 5xx, 408/425/429 and answers that
are not JSON are `PlatformUnavailable` (retry next run); another 4xx is
`PlatformRequestRejected`. An answer carrying the platform's `error_response` is returned as
it is, for the platform's module (chalicelib/channels/<platform>.py) to classify, since
routers answer their errors with 200 (or, behind some gateways, with a 4xx/5xx).

The three platform clients combine the transport with the pure request builders and
answer readers, and implement the ports of chalicelib/domain/polling.py.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from chalicelib.channels import jd, pinduoduo, taobao
from chalicelib.channels.base import load_json
from chalicelib.channels.pull import PullCredentials
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.polling import (
    Batch,
    Page,
    PlatformRequestRejected,
    PlatformUnavailable,
    TmcMessage,
    Window,
    pages_newest_first,
)
from chalicelib.domain.ports import Store

DEFAULT_TIMEOUT = 5.0  # seconds per call: a slow platform must not eat the run
RETRYABLE_4XX = frozenset({408, 425, 429})
CONFIRM_CHUNK = 200  # TMC confirms at most 200 ids per call


@dataclass(frozen=True)
class Answer:
    text: str
    payload: Any  # JSON, non-integers as Decimal, integers exact (64-bit ids)


class RouterTransport:
    def __init__(
        self, timeout: float = DEFAULT_TIMEOUT, opener: Callable[..., Any] = urllib.request.urlopen
    ) -> None:
        self._timeout = timeout
        self._open = opener

    def post(self, url: str, params: Mapping[str, str], platform: str) -> Answer:
        request = urllib.request.Request(
            url,
            data=urlencode(params).encode("utf-8"),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
            method="POST",
        )
        try:
            with self._open(request, timeout=self._timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = _read_quietly(exc)
            answer = _json_answer(body)
            if isinstance(answer.payload, Mapping) and "error_response" in answer.payload:
                return answer
            reason = f"{platform} router answered HTTP {exc.code}"
            if 400 <= exc.code < 500 and exc.code not in RETRYABLE_4XX:
                raise PlatformRequestRejected(reason) from None
            raise PlatformUnavailable(reason) from None
        except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
            why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise PlatformUnavailable(f"{platform} router unreachable: {why}") from None
        answer = _json_answer(body)
        if answer.payload is None:
            raise PlatformUnavailable(f"{platform} router answered something that is not JSON")
        return answer


def _read_quietly(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read() or b""
    except OSError:
        return b""


def _json_answer(body: bytes) -> Answer:
    text = body.decode("utf-8", errors="replace")
    try:
        return Answer(text, load_json(body))
    except InvalidPayload:
        return Answer(text, None)


class TaobaoTmc:
    """TMC consume/confirm and trade fetches for one store (`polling.TmcQueue`)."""

    def __init__(
        self,
        url: str,
        credentials: PullCredentials,
        transport: RouterTransport,
        clock: Callable[[], datetime],
    ) -> None:
        self._url = url
        self._credentials = credentials
        self._transport = transport
        self._clock = clock

    def _post(self, params: Mapping[str, str]) -> Answer:
        return self._transport.post(self._url, params, taobao.PLATFORM)

    def consume(self) -> list[TmcMessage]:
        answer = self._post(taobao.consume_request(self._credentials, self._clock()))
        return taobao.parse_consumed(answer.payload)

    def confirm(self, message_ids: Sequence[str]) -> None:
        ids = list(message_ids)
        for start in range(0, len(ids), CONFIRM_CHUNK):
            chunk = ids[start : start + CONFIRM_CHUNK]
            answer = self._post(taobao.confirm_request(chunk, self._credentials, self._clock()))
            taobao.check_confirmed(answer.payload)

    def fetch_trade(self, tid: str) -> tuple[str, Any]:
        answer = self._post(taobao.fullinfo_request(tid, self._credentials, self._clock()))
        return answer.text, answer.payload


class IncrementalOrders(ABC):
    """Incremental order pages of one store of a platform that lists orders by update time
    (`polling.IncrementalSource`): Pinduoduo and JD, each through its request builder and
    page parser (`PinduoduoOrders`, `JdOrders`)."""

    def __init__(
        self,
        url: str,
        credentials: PullCredentials,
        transport: RouterTransport,
        store: Store,
        clock: Callable[[], datetime],
    ) -> None:
        self._url = url
        self._credentials = credentials
        self._transport = transport
        self._store = store
        self._clock = clock

    platform = ""
    page_size = 0

    @abstractmethod
    def _request(self, window: Window, number: int) -> Mapping[str, str]:
        """The signed request parameters of page `number` of `window`."""

    @abstractmethod
    def _parse(self, answer: Answer) -> Page:
        """The page an answer holds."""

    def _page(self, window: Window, number: int) -> Page:
        answer = self._transport.post(self._url, self._request(window, number), self.platform)
        return self._parse(answer)

    def batches(self, window: Window) -> Iterator[Batch]:
        return pages_newest_first(lambda number: self._page(window, number), self.page_size)


class PinduoduoOrders(IncrementalOrders):
    """`pdd.order.number.list.increment.get` pages of one Pinduoduo store."""

    platform, page_size = pinduoduo.PLATFORM, pinduoduo.PAGE_SIZE

    def _request(self, window: Window, number: int) -> Mapping[str, str]:
        return pinduoduo.increment_request(window, number, self._credentials, self._clock())

    def _parse(self, answer: Answer) -> Page:
        return pinduoduo.parse_increment_page(
            answer.payload, answer.text, self._store, self._clock()
        )


class JdOrders(IncrementalOrders):
    """Order search pages of one JD store."""

    platform, page_size = jd.PLATFORM, jd.PAGE_SIZE

    def _request(self, window: Window, number: int) -> Mapping[str, str]:
        return jd.search_request(
            window, number, self._credentials, self._clock(), self._store.timezone
        )

    def _parse(self, answer: Answer) -> Page:
        return jd.parse_search_page(answer.payload, answer.text, self._store, self._clock())
