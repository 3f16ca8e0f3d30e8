"""What every platform's stock-push client shares (pure): the HTTP call it builds, the
answer it reads, and how answers become domain errors.

Each platform module (`<platform>_stock.py`) subclasses `PlatformStock`: it reads the
store's credentials, builds the signed calls that set absolute quantities (batched where the
platform's API allows), reads each answer into a result per SKU, and looks a SKU up in the
platform's catalog (the listing map, domain/listings.py). The adapter
(adapters/platform_stock.py) sends the calls: rate limits, retries with backoff, the map.

Errors, per SKU or for a whole call:
- `ChannelUnavailable` (try again: 5xx, timeouts, rate limits, an unknown refusal),
  `Throttled` when the platform says how long to wait;
- `ChannelRejected` (a person must act: credentials refused, request refused for good),
  `ListingGone` when the listing the map named no longer takes stock (the map entry is
  dropped and the SKU looked up again).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.channels.base import api_fields
from chalicelib.domain.errors import (
    ChannelCredentialsRejected,
    ChannelRejected,
    ChannelUnavailable,
    OrderHubError,
)
from chalicelib.domain.polling import (
    PlatformCredentialsRejected,
    PlatformRequestRejected,
    PlatformUnavailable,
)

Results = dict[str, OrderHubError | None]  # sku -> None (taken) or why not
Send = Callable[["ApiCall"], "ApiAnswer"]  # the adapter's sender: rate limits and retries


@dataclass(frozen=True)
class ApiCall:
    """One HTTP request, relative to the platform's base URL."""

    method: str
    path: str  # with its query string, if any
    api: str  # the platform's name for the call (e.g. `inventorySetQuantities`)
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case

    def json(self) -> Any:
        """The body as JSON (floats as Decimal), or None when it is not JSON."""
        try:
            return json.loads(self.body, parse_float=Decimal) if self.body else None
        except (ValueError, UnicodeDecodeError):
            return None

    def said(self, limit: int = 200) -> str:
        words = self.body.decode("utf-8", "replace").strip()
        return words if len(words) <= limit else words[:limit] + "..."


@dataclass(frozen=True)
class StockLine:
    """One SKU's absolute quantity for one store, with the platform's ids from the map."""

    sku: str
    quantity: int
    ids: Mapping[str, str]


class Throttled(ChannelUnavailable):
    """The platform asked us to slow down, and (maybe) said for how long."""

    code = "channel_throttled"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ListingGone(ChannelRejected):
    """The listing the map names does not take stock any more (deleted, not stocked there)."""

    code = "listing_gone"


class BatchRefused(ChannelUnavailable):
    """The platform refused a batch without saying which line: send the lines one by one."""

    code = "batch_refused"


def compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def retry_after(headers: Mapping[str, str], default: float = 1.0) -> float:
    value = headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def http_failure(answer: ApiAnswer, platform: str, fix: str) -> OrderHubError | None:
    """The error an HTTP status means by itself (None for 2xx)."""
    if 200 <= answer.status < 300:
        return None
    said = answer.said()
    if answer.status == 429:
        return Throttled(f"{platform} rate-limited OrderHub (429)", retry_after(answer.headers))
    if answer.status in (401, 403):
        return ChannelCredentialsRejected(
            f"{platform} refused OrderHub's credentials ({answer.status}: {said}). Fix: {fix}"
        )
    if answer.status >= 500 or answer.status in (408, 409, 423, 425):
        return ChannelUnavailable(f"{platform} answered {answer.status}: {said}")
    return ChannelRejected(f"{platform} refused the request ({answer.status}: {said})")


def from_polling(exc: OrderHubError, fix: str) -> OrderHubError:
    """The pull platforms' classified refusals (channels/{taobao,pinduoduo,jd}.py) as stock
    push errors."""
    if isinstance(exc, PlatformCredentialsRejected):
        return ChannelCredentialsRejected(f"{exc.message}. Fix: {fix}")
    if isinstance(exc, PlatformUnavailable):
        if "limit" in exc.message.lower() or "频繁" in exc.message:
            return Throttled(exc.message, 1.0)
        return ChannelUnavailable(exc.message)
    if isinstance(exc, PlatformRequestRejected):
        return ChannelRejected(exc.message)
    return ChannelUnavailable(exc.message)


def every(lines: Sequence[StockLine], outcome: OrderHubError | None) -> Results:
    return {line.sku: outcome for line in lines}


def int_or_text(value: str) -> int | str:
    """A 64-bit id as the platforms' JSON carries it: a number when it is one."""
    return int(value) if value.isdigit() else value


class PlatformStock(ABC):
    """One platform's inventory API, listing search and answers (see the module docstring)."""

    platform = ""
    api = ""  # the stock call's name
    lookup_api = ""
    secret_fields: tuple[str, ...] = ()
    optional_fields: tuple[str, ...] = ()
    rate_per_second = 5.0  # calls per second per store, below the platform's quota
    needs_token = False  # Amazon: an LWA access token first (`token_call`)

    def credentials(self, secret: Mapping[str, Any], store_id: str) -> dict[str, str]:
        """The fields the calls need; ChannelRejected naming the missing ones."""
        values, missing = api_fields(secret, self.secret_fields)
        if missing:
            raise ChannelCredentialsRejected(
                f"the {self.platform} store's secret lacks {', '.join(missing)}. Fix: add "
                f"them to the store's secret (docs/channel-apis.md, {self.platform})"
            )
        for name in self.optional_fields:
            if str(secret.get(name) or "").strip():
                values[name] = str(secret[name]).strip()
        values.setdefault("store_id", store_id)
        return values

    def fix(self) -> str:
        return (
            f"check {', '.join(self.secret_fields)} in the store's secret (re-authorize the "
            "app if the token expired)"
        )

    def base_url(self, credentials: Mapping[str, str], configured: str) -> str:
        return configured

    def token_call(self, credentials: Mapping[str, str]) -> ApiCall:  # pragma: no cover
        raise TypeError(f"{self.platform} signs each call; it asks for no access token")

    def read_token(self, answer: ApiAnswer) -> tuple[str, float]:  # pragma: no cover
        raise TypeError(f"{self.platform} signs each call; it reads no access token")

    @abstractmethod
    def stock_calls(
        self, credentials: Mapping[str, str], lines: Sequence[StockLine], now: datetime
    ) -> list[tuple[ApiCall, list[StockLine]]]:
        """The calls that set these absolute quantities, each with the lines it carries."""

    @abstractmethod
    def read_stock(self, answer: ApiAnswer, lines: Sequence[StockLine]) -> Results:
        """Per SKU: None when taken, else why not. Raises for a whole-call failure."""

    @abstractmethod
    def lookup_call(self, credentials: Mapping[str, str], sku: str, now: datetime) -> ApiCall:
        """The catalog search for one seller SKU."""

    @abstractmethod
    def read_lookup(
        self, answer: ApiAnswer, sku: str, credentials: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str]:
        """(the listing's ids, or None when not listed; a note). Raises on failure."""

    def lookup(
        self, send: Send, credentials: Mapping[str, str], sku: str, now: datetime
    ) -> tuple[dict[str, str] | None, str]:
        """The catalog search (one call by default; a platform without a search by SKU
        crawls its catalog here)."""
        answer = send(self.lookup_call(credentials, sku, now))
        return self.read_lookup(answer, sku, credentials)

    def pause_after(self, answer: ApiAnswer) -> float:
        """Seconds to wait before the next call to this store (the platform's own hint)."""
        return 0.0

    def throttled(self, answer: ApiAnswer) -> bool:
        """Whether a 2xx answer says the call was throttled (retried like a 429)."""
        return False
