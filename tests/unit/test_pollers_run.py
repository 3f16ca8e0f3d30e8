"""The pollers' handler: every store of the platform is polled, one store's failure never
stops the others, each outcome is summarized, and what is read enters processing the way
webhooks' events do (queue + trail receipt; refusals into the ledger)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from chalice.app import ScheduledEventConfig

from app import app
from chalicelib.api.pollers import IntakeSink, run_pollers, window_policy
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.polling import (
    CursorConflict,
    IncrementalResult,
    PlatformCredentialsRejected,
    PlatformRequestRejected,
    PlatformUnavailable,
    Rejected,
)
from chalicelib.domain.ports import Store
from tests.builders import event
from tests.privacy_fakes import opened_message
from tests.unit.test_http_api import FakeContainer


def stores(deps: FakeContainer, *ids: str, platform: str = "pinduoduo") -> None:
    for store_id in ids:
        deps.catalog.put_store(Store(platform, store_id, f"orderhub/stores/{platform}/{store_id}"))


def test_every_store_is_polled_and_each_failure_is_its_own():
    deps = FakeContainer()
    stores(deps, "a-ok", "b-creds", "c-limited", "d-refused", "e-bug", "f-conflict", "g-ok")
    stores(deps, "tmall", platform="taobao")  # another platform: not this job's
    polled: list[str] = []
    failures: dict[str, Exception] = {
        "b-creds": PlatformCredentialsRejected("Invalid access_token"),
        "c-limited": PlatformUnavailable("rate limited"),
        "d-refused": PlatformRequestRejected("bad parameter"),
        "e-bug": KeyError("boom"),
        "f-conflict": CursorConflict("moved"),
    }

    def poll(deps: Any, store: Store, result: IncrementalResult) -> None:
        polled.append(store.store_id)
        result.queued = 2
        if store.store_id in failures:
            raise failures[store.store_id]

    summary = run_pollers(deps, "pinduoduo", poll, IncrementalResult)  # type: ignore[arg-type]
    assert polled == ["a-ok", "b-creds", "c-limited", "d-refused", "e-bug", "f-conflict", "g-ok"]
    statuses = {k: v["status"] for k, v in summary["stores"].items()}
    assert statuses == {
        "a-ok": "ok",
        "b-creds": "credentials_rejected",
        "c-limited": "retry_later",
        "d-refused": "request_rejected",
        "e-bug": "error",
        "f-conflict": "retry_later",
        "g-ok": "ok",
    }
    assert summary["stores"]["b-creds"]["reason"] == "Invalid access_token"
    assert summary["stores"]["a-ok"]["queued"] == 2  # progress kept, failed or not


def test_stores_are_deferred_when_the_invocation_is_nearly_out_of_time():
    deps = FakeContainer()
    stores(deps, "a", "b")
    left = iter([60_000, 1_000])
    summary = run_pollers(
        deps,  # type: ignore[arg-type]
        "pinduoduo",
        lambda d, s, r: None,
        IncrementalResult,
        lambda: next(left),
    )
    assert summary["stores"]["a"]["status"] == "ok"
    assert summary["stores"]["b"] == {"status": "deferred"}


def test_intake_sink_queues_like_a_webhook_and_records_refusals_in_the_ledger():
    deps = FakeContainer()
    store = Store("pinduoduo", "pdd-mall", "orderhub/stores/pinduoduo/pdd-mall")
    sink = IntakeSink(deps, store)  # type: ignore[arg-type]
    pulled = event("261125-1", "paid", platform="pinduoduo", store="pdd-mall")
    sink.queue([pulled], '{"order_sn_increment_get_response": {}}')
    (body, correlation), *_ = deps.queue.messages
    assert body["event"]["event_key"] == pulled.event_key
    raw = opened_message(body, deps.personal_data)["raw"]  # sealed in the queue
    assert raw == '{"order_sn_increment_get_response": {}}'
    assert correlation == "pinduoduo#pdd-mall#261125-1"
    assert pulled.event_key not in deps.trail.items  # its receipt rides on the message

    sink.reject(Rejected("invalid#pinduoduo#pdd-mall#x:t", "pinduoduo#pdd-mall#x", "no SKU"))
    record, _ = deps.orders.events["invalid#pinduoduo#pdd-mall#x:t"]
    assert (record.outcome.value, record.reason) == ("rejected_invalid", "no SKU")


def test_queue_failure_propagates_so_nothing_is_confirmed_or_advanced():
    deps = FakeContainer()

    def unavailable(body: Any, correlation_id: str) -> str:
        raise TransientFailure("SQS down")

    deps.queue.send = unavailable  # type: ignore[method-assign]
    sink = IntakeSink(deps, Store("jd", "pop", "x"))  # type: ignore[arg-type]
    with pytest.raises(TransientFailure):
        sink.queue([event("1", platform="jd", store="pop")], "raw")
    assert deps.trail.items == {}  # no receipt for what was not queued


def test_three_jobs_are_scheduled_every_minute_and_settle_lag_is_configurable():
    schedules = {
        s.name: str(getattr(s.schedule_expression, "to_string", lambda: "")())
        for s in app.event_sources
        if isinstance(s, ScheduledEventConfig)
        and s.name in ("poll_taobao", "poll_pinduoduo", "poll_jd")
    }
    assert schedules == {
        "poll_taobao": "rate(1 minute)",
        "poll_pinduoduo": "rate(1 minute)",
        "poll_jd": "rate(1 minute)",
    }
    deps: Any = FakeContainer()
    deps.settings.pull_settle_seconds = 7
    assert window_policy(deps).settle_lag == timedelta(seconds=7)
