"""Channel health rules (domain/channel_health.py): what an observation means, failure
streaks → one anomaly count per failing run and one notice per streak, recovery, the run's
isolation of one store's failure, and the daily summary. Pure: fakes and injected clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.channel_health import (
    SLOW_MS,
    CheckResult,
    Credentials,
    DayCount,
    Health,
    Observation,
    RateLimit,
    StoreHealth,
    Webhook,
    check_stores,
    decide,
    interpret,
    summarize,
    summary_notice,
)
from chalicelib.domain.ports import Store
from tests.fakes import FakeNotifier, FixedClock
from tests.ops_fakes import FakeAnomalySink, FakeOpsStats, FakeProbe

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SHOP = Store("shopify", "acme", "orderhub/stores/shopify/acme")
WOO = Store("woocommerce", "tea", "orderhub/stores/woocommerce/tea")
MALL = Store("mall", "demo-shop", "orderhub/stores/mall/demo-shop")

OK = Observation(
    answered=True,
    credentials=Credentials.VALID,
    latency_ms=140,
    rate_limit=RateLimit(39, 40),
    webhook=Webhook.PRESENT,
)
DOWN = Observation.unreachable("shopify answered HTTP 503", 30)


# ---- interpret ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("observation", "status", "words"),
    [
        (OK, Health.OK, "ok"),
        (DOWN, Health.FAILING, "503"),
        (Observation.refused("shopify answered 401: fix admin_api_token"), Health.FAILING, "401"),
        (
            Observation(answered=True, credentials=Credentials.VALID, webhook=Webhook.MISSING),
            Health.FAILING,
            "missing",
        ),
        (
            Observation(answered=True, credentials=Credentials.VALID, webhook=Webhook.INACTIVE),
            Health.FAILING,
            "inactive",
        ),
        (
            Observation(answered=True, problem="not authorized for shop_cipher X"),
            Health.FAILING,
            "shop_cipher",
        ),
        (Observation(answered=True, latency_ms=SLOW_MS + 1), Health.DEGRADED, "slow"),
        (Observation(answered=True, latency_ms=SLOW_MS), Health.OK, "ok"),
        (Observation(answered=True, rate_limit=RateLimit(3, 40)), Health.DEGRADED, "3/40"),
        (Observation(answered=True, rate_limit=RateLimit(4, 40)), Health.OK, "ok"),
        (Observation(answered=True, rate_limit=RateLimit(0)), Health.OK, "ok"),  # limit unknown
        (Observation(answered=True, warnings=("2 parked in the DLQ",)), Health.DEGRADED, "DLQ"),
        (Observation.no_probe("own shop: no API"), Health.NO_PROBE, "own shop"),
    ],
)
def test_an_observation_reads_as_one_status_with_its_reason(observation, status, words):
    got, why = interpret(observation)
    assert got is status
    assert words in why


def test_refused_credentials_fail_even_when_the_rest_looks_fine():
    refused = Observation(
        answered=True, credentials=Credentials.REFUSED, latency_ms=10, webhook=Webhook.PRESENT
    )
    assert interpret(refused)[0] is Health.FAILING


# ---- streaks -----------------------------------------------------------------------------------


def test_first_failure_opens_the_p1_anomaly_and_notifies_ops():
    decision = decide(None, SHOP, DOWN, T0)
    assert decision.state.status is Health.FAILING
    assert decision.state.failures_in_row == 1 and decision.state.failing_since == T0
    assert decision.anomaly is not None
    assert (decision.anomaly.rule, decision.anomaly.subject) == ("channel_health", "shopify#acme")
    assert decision.anomaly.priority.value == "P1"
    notice = decision.notice
    assert notice is not None and notice.kind == "health"
    assert (notice.priority, notice.audience) == ("P1", "ops")
    assert "shopify#acme" in notice.title and "503" in notice.body
    assert notice.facts["status"] == "failing"


def test_a_failure_streak_counts_the_anomaly_every_run_but_notifies_once():
    first = decide(None, SHOP, DOWN, T0)
    delivered = StoreHealth(**{**first.state.__dict__, "alerted": True})
    second = decide(delivered, SHOP, DOWN, T0 + timedelta(minutes=5))
    third = decide(second.state, SHOP, DOWN, T0 + timedelta(minutes=10))
    assert second.anomaly is not None and third.anomaly is not None  # counted each run
    assert second.notice is None and third.notice is None
    assert third.state.failures_in_row == 3 and third.state.failing_since == T0


def test_an_undelivered_failure_notice_is_sent_again_by_the_next_failing_run():
    first = decide(None, SHOP, DOWN, T0)  # state.alerted stays False: nobody heard
    second = decide(first.state, SHOP, DOWN, T0 + timedelta(minutes=5))
    assert second.notice is not None and second.state.failures_in_row == 2


def test_recovery_after_a_notified_streak_sends_recovered():
    failing = StoreHealth(
        "shopify",
        "acme",
        Health.FAILING,
        T0,
        "shopify answered HTTP 503",
        failures_in_row=3,
        failing_since=T0 - timedelta(minutes=10),
        alerted=True,
    )
    later = T0 + timedelta(minutes=5)
    decision = decide(failing, SHOP, OK, later)
    assert decision.anomaly is None
    assert decision.notice is not None and decision.notice.title.startswith("recovered")
    assert decision.notice.priority == "P1" and "3 failed checks" in decision.notice.body
    state = decision.state
    assert state.status is Health.OK and state.failures_in_row == 0
    assert state.failing_since is None and not state.alerted and state.last_ok_at == later


def test_a_streak_nobody_was_told_about_ends_quietly():
    unnotified = StoreHealth("shopify", "acme", Health.FAILING, T0, "x", failures_in_row=1)
    assert decide(unnotified, SHOP, OK, T0 + timedelta(minutes=5)).notice is None


def test_degraded_and_no_probe_are_never_failures():
    slow = Observation(answered=True, latency_ms=4000)
    for observation in (slow, Observation.no_probe("own shop")):
        decision = decide(None, SHOP, observation, T0)
        assert decision.anomaly is None and decision.notice is None
        assert decision.state.failures_in_row == 0
    assert decide(None, MALL, Observation.no_probe("x"), T0).state.last_ok_at is None


def test_state_survives_its_stored_form():
    state = decide(None, SHOP, DOWN, T0).state
    assert StoreHealth.from_dict(state.to_dict()) == state
    ok = decide(None, SHOP, OK, T0).state
    assert StoreHealth.from_dict(ok.to_dict()) == ok
    assert ok.to_dict()["rate_limit_remaining"] == 39


# ---- the run -----------------------------------------------------------------------------------


def run(probes, records, anomalies, notifier, clock):
    return check_stores(
        [SHOP, WOO, MALL], probes.get, records, anomalies, notifier, clock, workers=2
    )


def setup():
    shop, woo = FakeProbe(OK), FakeProbe(OK)
    probes = {"shopify": shop, "woocommerce": woo}  # mall: no probe registered
    return shop, woo, probes, FakeOpsStats(), FakeAnomalySink(), FakeNotifier(), FixedClock(T0)


def test_one_failing_store_opens_its_anomaly_once_per_run_and_is_notified_once():
    shop, _, probes, records, anomalies, notifier, clock = setup()
    first = run(probes, records, anomalies, notifier, clock)
    assert {r.state.key: r.state.status for r in first} == {
        "shopify#acme": Health.OK,
        "woocommerce#tea": Health.OK,
        "mall#demo-shop": Health.NO_PROBE,
    }
    assert anomalies.opened == [] and notifier.notices == []

    shop.observation = DOWN
    for minutes in (5, 10, 15):
        clock.moment = T0 + timedelta(minutes=minutes)
        results = run(probes, records, anomalies, notifier, clock)
    assert [a[:3] for a in anomalies.opened] == [("channel_health", "shopify#acme", "P1")] * 3
    assert [n.title for n in notifier.notices] == ["P1 channel_health: shopify#acme failing"]
    failing = next(r for r in results if r.state.platform == "shopify")
    assert failing.state.failures_in_row == 3 and failing.notified == ""
    assert records.states["woocommerce#tea"].status is Health.OK

    shop.observation = OK
    clock.moment = T0 + timedelta(minutes=20)
    healed = run(probes, records, anomalies, notifier, clock)
    assert next(r for r in healed if r.state.platform == "shopify").notified == "recovered"
    assert notifier.notices[-1].title == "recovered: channel_health shopify#acme"
    assert len(anomalies.opened) == 3


def test_a_probe_that_raises_or_a_platform_without_probe_never_stops_the_others():
    shop, woo, probes, records, anomalies, notifier, clock = setup()
    shop.error = RuntimeError("bug in the probe")
    results = run(probes, records, anomalies, notifier, clock)
    by_key = {r.state.key: r.state for r in results}
    assert by_key["shopify#acme"].status is Health.FAILING
    assert "RuntimeError" in by_key["shopify#acme"].detail
    assert by_key["woocommerce#tea"].status is Health.OK
    assert by_key["mall#demo-shop"].status is Health.NO_PROBE
    assert "no health probe" in by_key["mall#demo-shop"].detail
    assert woo.calls == ["tea"]


def test_a_notice_that_cannot_be_sent_is_retried_by_the_next_failing_run():
    shop, _, probes, records, anomalies, notifier, clock = setup()
    shop.observation = DOWN
    notifier.error = RuntimeError("every route failed")
    first = next(
        r for r in run(probes, records, anomalies, notifier, clock) if r.state.key == "shopify#acme"
    )
    assert "notice not sent" in first.errors[0] and not first.state.alerted
    notifier.error = None
    clock.advance(minutes=5)
    second = next(
        r for r in run(probes, records, anomalies, notifier, clock) if r.state.key == "shopify#acme"
    )
    assert second.notified == "failing" and second.state.alerted
    assert len(notifier.notices) == 1


def test_storage_or_anomaly_failures_are_reported_per_store_not_raised():
    shop, _, probes, records, anomalies, notifier, clock = setup()
    shop.observation = DOWN
    anomalies.error = RuntimeError("throttled")
    records.failing = RuntimeError("table gone")
    results = run(probes, records, anomalies, notifier, clock)
    shop_result = next(r for r in results if r.state.key == "shopify#acme")
    assert any("anomaly not opened" in e for e in shop_result.errors)
    assert any("result not stored" in e for e in shop_result.errors)
    assert shop_result.notified == "failing"  # ops still hear about it
    assert all(isinstance(r, CheckResult) for r in results) and len(results) == 3


def test_every_check_is_counted_on_its_utc_day():
    shop, _, probes, records, anomalies, notifier, clock = setup()
    run(probes, records, anomalies, notifier, clock)
    shop.observation = DOWN
    clock.advance(minutes=5)
    run(probes, records, anomalies, notifier, clock)
    counts = {c.platform: c for c in records.day_counts("2026-11-25")}
    assert (counts["shopify"].checks, counts["shopify"].failures) == (2, 1)
    assert counts["shopify"].latency_samples == 2 and counts["shopify"].latency_ms_total == 170
    assert counts["mall"].no_probe == 2 and counts["mall"].latency_samples == 0
    assert "503" in counts["shopify"].last_problem


# ---- the daily summary -------------------------------------------------------------------------


def test_the_summary_lists_failing_stores_first_with_availability_and_mean_latency():
    counts = [
        DayCount("woocommerce", "tea", checks=288, latency_ms_total=28800, latency_samples=288),
        DayCount(
            "shopify",
            "acme",
            checks=288,
            failures=12,
            degraded=3,
            latency_ms_total=57600,
            latency_samples=276,
            last_problem="shopify answered HTTP 503",
        ),
        DayCount("mall", "demo-shop", checks=288, no_probe=288),
    ]
    latest = {"shopify#acme": decide(None, SHOP, OK, T0).state}
    summary = summarize("2026-11-24", counts, latest)
    first, *rest = summary.stores
    assert (first.platform, first.failures, first.availability_pct) == ("shopify", 12, 95.83)
    assert first.mean_latency_ms == 209 and first.status_now == "ok"
    mall = next(s for s in rest if s.platform == "mall")
    assert mall.availability_pct is None and mall.mean_latency_ms is None
    assert [s.store_id for s in summary.failing_stores] == ["acme"]
    notice = summary_notice(summary, T0)
    assert (notice.kind, notice.priority, notice.audience) == ("health", "info", "ops")
    assert "shopify/acme: 12 failed of 288" in notice.body
    assert summary.from_dict(summary.to_dict()) == summary
