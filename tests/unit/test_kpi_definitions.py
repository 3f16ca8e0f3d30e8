"""The daily KPIs' definitions (domain/kpis.py) with frozen clocks, and the job that counts
them through indexes and emits them as EMF metrics (api/kpis.py) over the fake stack."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import time_machine

from chalicelib.channels import CHANNELS
from chalicelib.channels.after_sales import AFTER_SALES_PARSERS
from chalicelib.domain.kpis import (
    CHASE_SOURCES,
    TARGETS,
    daily_kpis,
    day_bounds,
    kpi_day,
    oversold_stock_items,
    previous_kpi_day,
)
from chalicelib.domain.model import StockLevel
from chalicelib.domain.ports import Store
from chalicelib.domain.timeutil import utc_now
from tests.unit.test_channel_health_api import emf, metric_values, run_job
from tests.unit.test_http_api import KEY


def test_the_kpi_day_is_the_beijing_day():
    # 16:00 UTC is midnight in Beijing: the day turns there, not at 00:00 UTC
    assert kpi_day(datetime(2026, 11, 25, 15, 59, tzinfo=UTC)) == date(2026, 11, 25)
    assert kpi_day(datetime(2026, 11, 25, 16, 0, tzinfo=UTC)) == date(2026, 11, 26)
    start, end = day_bounds(date(2026, 11, 25))
    assert start.astimezone(UTC) == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def test_the_job_at_0020_beijing_counts_the_day_that_just_ended():
    with time_machine.travel(datetime(2026, 11, 25, 16, 20, tzinfo=UTC), tick=False):
        assert previous_kpi_day(utc_now()) == date(2026, 11, 25)  # 00:20 on the 26th, Beijing
    with time_machine.travel(datetime(2026, 11, 25, 15, 50, tzinfo=UTC), tick=False):
        assert previous_kpi_day(utc_now()) == date(2026, 11, 24)


def test_rates_follow_their_definitions():
    kpis = daily_kpis(
        date(2026, 11, 25),
        new_orders=400,
        anomalies_by_rule={"out_of_stock": 2, "backorder": 1, "unknown_sku": 5, "clock_skew": 0},
    )
    assert kpis.oversold_orders == 3 and kpis.anomalies_opened == 8
    assert kpis.oversell_rate == 0.75  # 100 x 3 / 400
    assert kpis.anomaly_ratio == 2.0  # 100 x 8 / 400
    assert kpis.anomalies_by_rule == {"backorder": 1, "out_of_stock": 2, "unknown_sku": 5}
    assert kpis.metrics() == {"OversellRate": 0.75, "AnomalyRatio": 2.0}


def test_a_day_without_orders_has_no_rates_rather_than_zero():
    kpis = daily_kpis(date(2026, 11, 25), 0, {"dlq_not_empty": 1})
    assert kpis.oversell_rate is None and kpis.anomaly_ratio is None
    assert kpis.metrics() == {}


def test_the_chase_rate_is_after_sales_requests_over_new_orders():
    # every platform's after-sales requests are ingested: pushed ones through
    # AFTER_SALES_PARSERS, Taobao's TMC, Amazon's queue, Pinduoduo's and JD's pulled lists
    assert set(CHASE_SOURCES) == set(AFTER_SALES_PARSERS) | {"taobao", "amazon", "pinduoduo", "jd"}
    assert set(CHASE_SOURCES) == set(CHANNELS) | {"taobao", "pinduoduo", "jd", "amazon"}
    kpis = daily_kpis(date(2026, 11, 25), 400, {}, chased_orders=7)
    assert kpis.chased_orders == 7 and kpis.customer_chase_rate == 1.75  # 100 x 7 / 400
    assert kpis.metrics()["CustomerChaseRate"] == 1.75
    assert kpis.to_dict()["customer_chase_source"] == ", ".join(CHASE_SOURCES)
    assert (
        daily_kpis(date(2026, 11, 25), 400, {}, chased_orders=0).metrics()["CustomerChaseRate"]
        == 0.0
    )  # measured: a real 0
    assert daily_kpis(date(2026, 11, 25), 0, {}, chased_orders=3).metrics() == {}


def test_targets_are_the_issues():
    assert TARGETS == {
        "sync_latency_p50_seconds": 60.0,
        "oversell_rate_pct": 0.0,
        "anomaly_ratio_pct": 3.0,
        "customer_chase_rate_pct": 1.5,
    }


def test_oversold_stock_items_are_negative_available_or_drift():
    levels = [
        StockLevel.new("TEA", "w1", 5),
        StockLevel("CUP", "w1", on_hand=1, locked=2, reserved=0, available=-1),
    ]
    assert oversold_stock_items(levels, [("KETTLE", "w2"), ("TEA", "w1")]) == {
        ("CUP", "w1"),
        ("KETTLE", "w2"),
        ("TEA", "w1"),
    }
    assert oversold_stock_items([StockLevel.new("TEA", "w1", 5)], []) == set()


def test_the_daily_job_counts_through_the_indexes_stores_and_emits(client, deps, capsys):
    deps.catalog.put_store(Store("shopify", "acme", "s/shopify"))
    with time_machine.travel(datetime(2026, 11, 25, 16, 20, tzinfo=UTC), tick=False):
        deps.now.moment = utc_now()
    day = date(2026, 11, 25)
    deps.kpi_sources.placed[("mall", "demo-shop", day)] = 150
    deps.kpi_sources.placed[("shopify", "acme", day)] = 50
    deps.kpi_sources.placed[("shopify", "acme", day - timedelta(days=1))] = 999  # not that day
    start, end = day_bounds(day)
    deps.kpi_sources.openings += [
        ("out_of_stock", start),  # the first instant counts
        ("unknown_sku", start + timedelta(hours=3)),
        ("channel_health", end - timedelta(microseconds=1)),
        ("out_of_stock", end),  # the next day's
    ]
    deps.kpi_sources.after_sales[day] = 3  # after-sales requests opened that Beijing day
    deps.kpi_sources.after_sales[day - timedelta(days=1)] = 50  # not that day
    capsys.readouterr()
    result = run_job(client, "publish_daily_kpis")
    assert result["day"] == "2026-11-25" and result["new_orders"] == 200
    assert result["anomalies_by_rule"] == {"channel_health": 1, "out_of_stock": 1, "unknown_sku": 1}
    assert result["oversell_rate_pct"] == 0.5 and result["anomaly_ratio_pct"] == 1.5
    assert result["chased_orders"] == 3 and result["customer_chase_rate_pct"] == 1.5
    assert deps.ops_stats.saved_kpis["2026-11-25"]["new_orders"] == 200
    documents = emf(capsys.readouterr().out)
    assert [v for _, v in metric_values(documents, "OversellRate")] == [0.5]
    assert [v for _, v in metric_values(documents, "AnomalyRatio")] == [1.5]
    assert [v for _, v in metric_values(documents, "CustomerChaseRate")] == [1.5]
    assert [v for _, v in metric_values(documents, "NewOrders")] == [200.0]
    (dims, _), *_ = metric_values(documents, "OversellRate")
    assert dims == {"service": "orderhub"}


def test_get_ops_kpis_serves_a_stored_day(client, deps):
    auth = {"Authorization": f"Bearer {KEY}"}
    deps.ops_stats.save_kpis(daily_kpis(date(2026, 11, 25), 10, {"out_of_stock": 1}))
    found = client.http.get("/ops/kpis?date=2026-11-25", headers=auth)
    assert found.status_code == 200 and found.json_body["oversell_rate_pct"] == 10.0
    assert client.http.get("/ops/kpis?date=2026-11-24", headers=auth).status_code == 404
    assert client.http.get("/ops/kpis?date=nope", headers=auth).status_code == 400
    assert client.http.get("/ops/kpis?date=2026-11-25").status_code == 401
