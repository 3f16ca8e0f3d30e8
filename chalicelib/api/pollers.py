"""The pull platforms' pollers, every minute: Taobao/Tmall (TMC), Pinduoduo and JD.

Each job polls every store of its platform in the catalog, one after the other; one store's
failure is logged, counted and summarized, and never stops the others. Per store:
- Taobao: consume TMC messages, fetch each trade, queue, then confirm (domain/polling.py
  `drain_tmc`; channels/taobao.py);
- Pinduoduo, JD: read the next time windows after the store's cursor, queue, then advance
  the cursor (domain/polling.py `poll_increments`; channels/pinduoduo.py, channels/jd.py).
Events enter processing exactly as webhooks' do (`queue_and_record`): booking dedupes them
by key, so a message delivered twice or a window read twice books once.

Outcomes per store in the returned summary and the logs: `ok`; `retry_later` (the platform
was unavailable or rate limited, or another run holds the cursor: the next run goes on);
`credentials_rejected` / `request_rejected` / `error` (a person must look: metric
`PullStoreFailures`, alarm `orderhub-pull-store-failures`); `deferred` (the run ran out of
time before this store; the next run polls it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from chalice import Blueprint, Rate

from chalicelib.adapters.pull_clients import JdOrders, PinduoduoOrders, TaobaoTmc
from chalicelib.api.intake import queue_and_record
from chalicelib.api.processor import record_rejection
from chalicelib.channels import jd, pinduoduo, taobao
from chalicelib.channels.after_sales_platforms import taobao_after_sales
from chalicelib.channels.pull import pull_credentials
from chalicelib.deps import Container, container
from chalicelib.domain.after_sales import record_after_sales
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.polling import (
    CursorConflict,
    IncrementalResult,
    IncrementalSource,
    PlatformCredentialsRejected,
    PlatformRequestRejected,
    Rejected,
    TmcMessage,
    TmcResult,
    WindowPolicy,
    cursor_id,
    drain_tmc,
    poll_increments,
)
from chalicelib.domain.ports import Store
from chalicelib.observability import logger, metrics

bp = Blueprint(__name__)

MAX_TMC_BATCHES = 5  # per store and run: up to 500 messages
RESERVE_MS = 5_000  # no store is started with less time left (a timeout mid-store loses nothing)


class _Result(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class IntakeSink:
    """Where pollers put what they read: the order queue (its messages carry the receipts),
    and the ledger for what can never be booked."""

    def __init__(self, deps: Container, store: Store) -> None:
        self._deps = deps
        self._store = store

    def queue(self, events: Sequence[OrderEvent], raw: str) -> None:
        store = self._store
        queue_and_record(self._deps, store.platform, store.store_id, events, raw, self._deps.now())

    def reject(self, rejected: Rejected) -> None:
        record_rejection(
            self._deps,
            rejected.key,
            rejected.order_key,
            rejected.reason,
            cause=f"{self._store.platform} pull: refused",
        )
        logger().warning(
            "pulled order refused",
            extra={"event_key": rejected.key, "reason": rejected.reason},
        )
        metrics().add_metric(name="PullOrdersRejected", unit="Count", value=1)


def window_policy(deps: Container) -> WindowPolicy:
    return WindowPolicy(settle_lag=timedelta(seconds=deps.settings.pull_settle_seconds))


def poll_taobao_store(deps: Container, store: Store, result: TmcResult) -> None:
    credentials = pull_credentials(deps.secrets.get_secret(store.secret_name), store.platform)
    tmc = TaobaoTmc(deps.settings.taobao_api_url, credentials, deps.pull_transport, deps.now)

    def read(message: TmcMessage) -> Any:
        if not credentials.seller_nick or message.user_nick == credentials.seller_nick:
            # refund topics are after-sales requests (channels/after_sales_platforms.py),
            # recorded before the message can be confirmed
            found = taobao_after_sales(
                message.message_id, message.topic, message.content, message.pub_time, store
            )
            record_after_sales(found, deps.after_sales)
        return taobao.read_tmc_message(message, tmc.fetch_trade, store, credentials, deps.now())

    drain_tmc(tmc, read, IntakeSink(deps, store), MAX_TMC_BATCHES, result)


def _poll_increments(
    deps: Container, store: Store, source: IncrementalSource, result: IncrementalResult
) -> None:
    poll_increments(
        cursor_id(store.platform, store.store_id),
        deps.poll_cursors,
        source,
        IntakeSink(deps, store),
        deps.now(),
        window_policy(deps),
        result,
    )


def poll_pinduoduo_store(deps: Container, store: Store, result: IncrementalResult) -> None:
    credentials = pull_credentials(deps.secrets.get_secret(store.secret_name), store.platform)
    source = PinduoduoOrders(
        deps.settings.pdd_api_url, credentials, deps.pull_transport, store, deps.now
    )
    _poll_increments(deps, store, source, result)


def poll_jd_store(deps: Container, store: Store, result: IncrementalResult) -> None:
    credentials = pull_credentials(deps.secrets.get_secret(store.secret_name), store.platform)
    source = JdOrders(deps.settings.jd_api_url, credentials, deps.pull_transport, store, deps.now)
    _poll_increments(deps, store, source, result)


def _remaining_ms(event: Any) -> int | None:
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else None


def _failure(status: str, store: Store, exc: Exception, level: str = "error") -> dict[str, str]:
    reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    log = logger()
    extra = {"platform": store.platform, "store": store.store_id, "reason": reason}
    if level == "warning":
        log.warning("pull store: retry later", extra=extra)
        metrics().add_metric(name="PullStoreRetries", unit="Count", value=1)
    else:
        log.error(f"pull store failed: {status}", extra=extra)
        metrics().add_metric(name="PullStoreFailures", unit="Count", value=1)
    return {"status": status, "reason": reason}


def run_pollers(
    deps: Container,
    platform: str,
    poll_store: Callable[[Container, Store, Any], None],
    new_result: Callable[[], _Result],
    remaining_ms: Callable[[], int | None] = lambda: None,
) -> dict[str, Any]:
    """Poll every store of `platform`; returns {platform, stores: {store_id: outcome}}."""
    stores = sorted(
        (s for s in deps.catalog.list_stores() if s.platform == platform and not s.disabled),
        key=lambda s: s.store_id,
    )
    summary: dict[str, Any] = {}
    queued = 0
    for store in stores:
        left = remaining_ms()
        if left is not None and left < RESERVE_MS:
            summary[store.store_id] = {"status": "deferred"}
            continue
        result = new_result()
        try:
            poll_store(deps, store, result)
            outcome: dict[str, Any] = {"status": "ok"}
        except PlatformCredentialsRejected as exc:
            outcome = _failure("credentials_rejected", store, exc)
        except PlatformRequestRejected as exc:
            outcome = _failure("request_rejected", store, exc)
        except (TransientFailure, CursorConflict) as exc:  # platform down, another run, AWS
            outcome = _failure("retry_later", store, exc, level="warning")
        except Exception as exc:
            logger().exception("pull store failed", extra={"store": store.store_id})
            outcome = _failure("error", store, exc)
        progress = result.to_dict()
        queued += int(progress.get("queued", 0))
        summary[store.store_id] = {**outcome, **progress}
        logger().info(
            "pull store polled",
            extra={"platform": platform, "store": store.store_id, **summary[store.store_id]},
        )
    metrics().add_metric(name="PullEventsQueued", unit="Count", value=queued)
    return {"platform": platform, "stores": summary}


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def poll_taobao(event: Any) -> dict[str, Any]:
    """Taobao/Tmall: TMC messages consumed, trades fetched, queued, then confirmed."""
    return run_pollers(
        container(), taobao.PLATFORM, poll_taobao_store, TmcResult, lambda: _remaining_ms(event)
    )


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def poll_pinduoduo(event: Any) -> dict[str, Any]:
    """Pinduoduo: incremental order windows after each store's cursor."""
    return run_pollers(
        container(),
        pinduoduo.PLATFORM,
        poll_pinduoduo_store,
        IncrementalResult,
        lambda: _remaining_ms(event),
    )


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def poll_jd(event: Any) -> dict[str, Any]:
    """JD: incremental order windows (by modification time) after each store's cursor."""
    return run_pollers(
        container(), jd.PLATFORM, poll_jd_store, IncrementalResult, lambda: _remaining_ms(event)
    )
