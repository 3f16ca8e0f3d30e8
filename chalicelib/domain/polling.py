"""Pulling orders from platforms that do not push: time-window cursors and the TMC sequence.
Pure Python; the platform calls, the queue and the cursor table come in through ports.

Incremental queries (Pinduoduo, JD)
    A store's cursor is a point in time: every order update stamped before it has been
    queued. One poll asks for the window

        start = cursor - overlap,   end = min(now - settle lag, start + max window)

    (whole seconds), reads every page of it, queues what it found, and only then moves the
    cursor to `end`, with a conditional write on the cursor's version: two overlapping runs
    cannot both advance it, and a run that fails part-way leaves it where the last fully
    queued window ended, so the next run reads that window again. Nothing is skipped:
    - windows tile time: each starts `overlap` (1 s: the platforms' times have whole-second
      resolution) before the previous end, so whether a platform treats its bounds as
      inclusive or exclusive cannot open a gap between two windows. Only updates stamped in
      that boundary second are read twice; a wider overlap would re-queue every order;
    - `settle lag` keeps the window's end behind the clock (Pinduoduo asks for 3 minutes), so
      an update still being indexed, or a platform clock behind ours by less than the lag,
      is read by a later window;
    - pages are read newest first (`pages_newest_first`): an order updated while we page moves
      out of the window (into a later one), which shifts the remaining rows towards page 1;
      reading backwards, a shift can only repeat a row we already have, never hide one.
    Nothing is read twice *into the books*: each event's key is the order's state (id, status,
    update time), so the overlap and any re-read produce the same keys, which booking
    recognises as duplicates.

Taobao/Tmall TMC
    `drain_tmc`: consume a batch, turn each message into events (the platform call that
    fetches the trade is inside `read`), queue them, and only after queuing confirm the
    messages that are done. A message whose details could not be fetched (a passing error),
    or whose queuing failed, is not confirmed: TMC delivers it again, and its event key (the
    message id) makes the second booking a duplicate. A message that can never become an event
    is recorded as rejected (the ledger keeps the reason) and confirmed.

Errors: `PlatformUnavailable` (rate limits, the platform's system errors, timeouts) is a
passing failure: the next run retries. `PlatformCredentialsRejected` (bad app key, secret,
session or signature) and `PlatformRequestRejected` (any other refusal) need a person: the
handlers log and count them (alarm `orderhub-pull-store-failures`).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.bounds import MAX_ID, check_event
from chalicelib.domain.errors import (
    ConcurrentUpdate,
    InvalidPayload,
    OrderHubError,
    TransientFailure,
)
from chalicelib.domain.model import OrderEvent


class PlatformUnavailable(TransientFailure):
    """The platform did not answer usefully this time (rate limited, its system error, a
    timeout, a gateway page): nothing moves, the next run asks again."""

    code = "platform_unavailable"


class PlatformCredentialsRejected(OrderHubError):
    """The platform refused the store's app key, secret, session or signature, or the secret
    lacks a field: fix the store's secret (or re-authorize the app); polling it stops."""

    code = "platform_credentials_rejected"


class PlatformRequestRejected(OrderHubError):
    """The platform refused the request for another reason (invalid parameters, permissions):
    retrying unchanged cannot help; a person must look at the code and message."""

    code = "platform_request_rejected"


class CursorConflict(ConcurrentUpdate):
    """Another run advanced the cursor first: this run stops; the next starts from there."""

    code = "cursor_conflict"


# ---- time windows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowPolicy:
    settle_lag: timedelta = timedelta(minutes=3)
    max_window: timedelta = timedelta(minutes=30)  # Pinduoduo's documented maximum
    overlap: timedelta = timedelta(seconds=1)  # see the module docstring
    initial_lookback: timedelta = timedelta(hours=1)  # a new store's first window starts here
    max_windows: int = 6  # per run: a store far behind catches up over several runs

    def __post_init__(self) -> None:
        if not timedelta(0) <= self.overlap < self.max_window:
            raise ValueError("overlap must be at least 0 and shorter than max_window")
        if self.settle_lag < timedelta(0) or self.max_windows < 1:
            raise ValueError("settle_lag must not be negative and max_windows at least 1")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class Cursor:
    """Every update stamped before `position` (UTC) has been queued. `version` is the stored
    version the next write is conditioned on; 0 when nothing is stored yet."""

    cursor_id: str
    position: datetime
    version: int = 0


def cursor_id(platform: str, store_id: str) -> str:
    return f"{platform}#{store_id}"


def _whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def initial_position(now: datetime, policy: WindowPolicy) -> datetime:
    return _whole_seconds(now - policy.settle_lag - policy.initial_lookback)


def next_window(position: datetime, now: datetime, policy: WindowPolicy) -> Window | None:
    """The next window to read after a cursor at `position`, or None when caught up."""
    horizon = _whole_seconds(now - policy.settle_lag)
    if horizon <= position:
        return None
    start = position - policy.overlap
    return Window(start, min(horizon, start + policy.max_window))


class CursorStore(Protocol):
    def load(self, cursor_id: str) -> Cursor | None: ...

    def advance(self, cursor: Cursor, position: datetime, now: datetime) -> Cursor:
        """Store `position` if the stored version is still `cursor.version` (0: none
        stored yet); the new cursor, or CursorConflict."""
        ...


# ---- what sources yield and sinks take ---------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    """Something read from a platform that can never become an event: recorded with the
    reason (a `rejected_invalid` record in the ledger), never retried."""

    key: str
    order_key: str
    reason: str


@dataclass(frozen=True)
class Batch:
    """Events read in one platform answer, the answer as received, and what was refused."""

    events: tuple[OrderEvent, ...]
    raw: str
    rejected: tuple[Rejected, ...] = ()


class EventSink(Protocol):
    def queue(self, events: Sequence[OrderEvent], raw: str) -> None:
        """Queue for booking; raises if they are not safely queued."""
        ...

    def reject(self, rejected: Rejected) -> None: ...


class IncrementalSource(Protocol):
    def batches(self, window: Window) -> Iterator[Batch]:
        """Every order updated in the window, one batch per page; raises PlatformUnavailable,
        PlatformCredentialsRejected or PlatformRequestRejected."""
        ...


@dataclass
class IncrementalResult:
    windows: list[Window] = field(default_factory=list)
    queued: int = 0
    rejected: int = 0
    position: datetime | None = None
    caught_up: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "windows": len(self.windows),
            "queued": self.queued,
            "rejected": self.rejected,
            "cursor": self.position.isoformat() if self.position else None,
            "caught_up": self.caught_up,
        }


def within_bounds(events: Sequence[OrderEvent]) -> tuple[list[OrderEvent], list[Rejected]]:
    """The events that pass the edge bounds (domain/bounds.py), and a rejection for each one
    that does not: recorded as `rejected_invalid`, so a pulled order that can never be booked
    neither holds the cursor back nor stops the others of its page."""
    fine: list[OrderEvent] = []
    refused: list[Rejected] = []
    for event in events:
        try:
            check_event(event)
        except InvalidPayload as exc:
            digest = hashlib.sha256(event.event_key.encode("utf-8", "replace")).hexdigest()[:32]
            key = f"invalid#{event.platform}#{event.store}#bounds:{digest}"
            order = event.order_key if len(event.order_key) <= 3 * MAX_ID else ""
            refused.append(Rejected(key, order, exc.message))
        else:
            fine.append(event)
    return fine, refused


def _deliver(batch: Batch, sink: EventSink) -> tuple[int, int]:
    events, refused = within_bounds(batch.events)
    rejected = [*batch.rejected, *refused]
    for rejection in rejected:
        sink.reject(rejection)
    if events:
        sink.queue(events, batch.raw)
    return len(events), len(rejected)


def poll_increments(
    key: str,
    cursors: CursorStore,
    source: IncrementalSource,
    sink: EventSink,
    now: datetime,
    policy: WindowPolicy,
    result: IncrementalResult | None = None,
) -> IncrementalResult:
    """Read, queue and advance window by window until caught up or `max_windows` are done.
    Raises what the source, sink or cursor store raise; the cursor then stays at the end of
    the last window fully queued (`result`, when given, shows the progress made)."""
    progress = result if result is not None else IncrementalResult()
    cursor = cursors.load(key) or Cursor(key, initial_position(now, policy))
    progress.position = cursor.position
    for _ in range(policy.max_windows):
        window = next_window(cursor.position, now, policy)
        if window is None:
            progress.caught_up = True
            break
        for batch in source.batches(window):
            queued, rejected = _deliver(batch, sink)
            progress.queued += queued
            progress.rejected += rejected
        cursor = cursors.advance(cursor, window.end, now)
        progress.windows.append(window)
        progress.position = cursor.position
    else:
        progress.caught_up = next_window(cursor.position, now, policy) is None
    return progress


@dataclass(frozen=True)
class Page:
    """One page of an incremental query: its batch and the total the platform reported."""

    batch: Batch
    total: int


def pages_newest_first(fetch: Callable[[int], Page], page_size: int) -> Iterator[Batch]:
    """Every page of a query, last page first (Pinduoduo's documented way to miss nothing).

    Page 1 is asked first for the total; with more than one page, the last page is read
    next and the walk goes back to page 1, which is read again: rows that shifted towards
    page 1 while we paged are then seen (twice at worst, never not at all)."""
    first = fetch(1)
    pages = max(1, math.ceil(first.total / page_size))
    if pages == 1:
        yield first.batch
        return
    for number in range(pages, 0, -1):
        yield fetch(number).batch


# ---- TMC: consume, queue, then confirm ---------------------------------------------------------


@dataclass(frozen=True)
class TmcMessage:
    """One TMC message envelope. The id is a 64-bit number: kept as text."""

    message_id: str
    topic: str
    content: Mapping[str, Any]
    pub_time: str
    user_id: str
    user_nick: str
    envelope: Mapping[str, Any]


class TmcQueue(Protocol):
    def consume(self) -> list[TmcMessage]: ...

    def confirm(self, message_ids: Sequence[str]) -> None: ...


@dataclass
class TmcResult:
    batches: int = 0
    queued: int = 0
    ignored: int = 0  # confirmed with nothing to queue (topics that are not orders)
    rejected: int = 0
    confirmed: int = 0
    unconfirmed: int = 0  # left for TMC to deliver again (passing failures, skipped)

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def drain_tmc(
    tmc: TmcQueue,
    read: Callable[[TmcMessage], Batch | None],
    sink: EventSink,
    max_batches: int,
    result: TmcResult | None = None,
) -> TmcResult:
    """Consume up to `max_batches` batches; confirm each message only once its events are
    queued (or it was recorded as rejected, or had nothing to queue).

    `read` raises TransientFailure for a message to retry later, or returns None for one to
    leave alone (another seller's): either stays unconfirmed and the drain stops after this
    batch, since TMC would hand it straight back. Anything else it
    raises, and any failure to queue, stops the drain at once: the messages queued before it
    are still confirmed, the failing one is not. Returns the counts (also into `result`)."""
    outcome = result if result is not None else TmcResult()
    for _ in range(max_batches):
        messages = tmc.consume()
        if not messages:
            break
        outcome.batches += 1
        done: list[str] = []
        left = 0
        try:
            for message in messages:
                try:
                    batch = read(message)
                except TransientFailure:
                    left += 1
                    continue
                if batch is None:
                    left += 1
                    continue
                queued, rejected = _deliver(batch, sink)
                outcome.queued += queued
                outcome.rejected += rejected
                if not queued and not rejected:
                    outcome.ignored += 1
                done.append(message.message_id)
        except BaseException:
            if done:  # best effort: an unconfirmed message only comes back as a duplicate
                with contextlib.suppress(Exception):
                    tmc.confirm(done)
                    outcome.confirmed += len(done)
            outcome.unconfirmed += len(messages) - len(done)
            raise
        if done:
            tmc.confirm(done)
            outcome.confirmed += len(done)
        outcome.unconfirmed += left
        if left:
            break
    return outcome
