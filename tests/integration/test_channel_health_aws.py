"""Channel health and the daily KPIs on moto with resources from infra/ and the real stubs:
the whole job (results in `orderhub-ops-stats`, the anomaly in `orderhub-anomalies`, EMF on
stdout), the Amazon queue probe, the own shop's last webhook from the trail, the ops-stats
contract (fake and DynamoDB), and the KPIs' counts through the `placed_day` and
`rule_opened` indexes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.adapters.health_probes import AmazonQueueProbe, LastWebhookProbe
from chalicelib.api.channel_health import run_health_checks as run_checks
from chalicelib.api.kpis import publish_kpis
from chalicelib.deps import Container
from chalicelib.domain.booking import BookingContext
from chalicelib.domain.channel_health import (
    DayCount,
    Health,
    HealthSummary,
    StoreDay,
    StoreHealth,
    interpret,
)
from chalicelib.domain.kpis import daily_kpis, day_bounds
from chalicelib.domain.model import Anomaly, Buyer, OrderEvent, OrderLine, PlatformStatus, Priority
from chalicelib.domain.ports import Store, StoreRules, Warehouse
from chalicelib.domain.processing import adjust_stock, process_order_event
from chalicelib.domain.stock_ops import Adjustment
from chalicelib.domain.stores import secret_name
from chalicelib.observability import metrics
from local.stub_health import Mode
from local.stub_platform import StubPlatform
from local.stub_pull import JD_PATH, PDD_PATH, TAOBAO_PATH, PullStub, seeded_credentials
from tests.conftest import ROOT
from tests.fakes import FakeNotifier, FixedClock
from tests.ops_fakes import FakeOpsStats
from tests.unit.test_channel_health_api import emf, metric_values

SEED = json.loads((ROOT / "local" / "seed.json").read_text())["stores"]
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def stubs() -> Iterator[tuple[StubPlatform, PullStub]]:
    platform = StubPlatform(port=0).start()
    pull = PullStub(seeded_credentials(SEED), port=0, health=platform.health.control).start()
    yield platform, pull
    pull.stop()
    platform.stop()


@pytest.fixture
def deps(aws, stack_env, stubs) -> Container:
    platform, pull = stubs
    environ = {
        **stack_env,
        "ORDERHUB_SHOPIFY_API_URL": platform.url,
        "ORDERHUB_WOOCOMMERCE_API_URL": platform.url,
        "ORDERHUB_BIGCOMMERCE_API_URL": platform.url,
        "ORDERHUB_TIKTOK_API_URL": platform.url,
        "ORDERHUB_DOUYIN_API_URL": platform.url,
        "ORDERHUB_TAOBAO_API_URL": f"{pull.url}{TAOBAO_PATH}",
        "ORDERHUB_PDD_API_URL": f"{pull.url}{PDD_PATH}",
        "ORDERHUB_JD_API_URL": f"{pull.url}{JD_PATH}",
    }
    container = Container(environ=environ, now=FixedClock(datetime.now(UTC)))
    container.notifier = FakeNotifier()  # type: ignore[assignment]
    secrets = aws.client("secretsmanager")
    for s in SEED:
        name = secret_name(s["platform"], s["store_id"])
        secrets.create_secret(Name=name, SecretString=json.dumps(s["credentials"]))
        container.catalog_store.put_store(
            Store(s["platform"], s["store_id"], name, s.get("timezone", "UTC"), "", StoreRules())
        )
    return container


def run_health_checks(deps: Container) -> dict:
    """The job's logic, its metrics flushed as the `observe` middleware flushes them."""
    try:
        return run_checks(deps)
    finally:
        metrics().flush_metrics()


def test_the_job_stores_results_opens_the_anomaly_and_emits_metrics(deps, stubs, capsys):
    platform, _ = stubs
    first = run_health_checks(deps)
    assert first["counts"] == {"ok": 9, "no_probe": 2}, first  # two own shops have no API
    latest = deps.ops_stats.latest()
    assert len(latest) == 11 and latest["amazon#A1ORDERHUBDEV0"].status is Health.OK
    assert latest["mall#demo-shop"].status is Health.NO_PROBE

    platform.health.control.set("bigcommerce", Mode(status=503))
    capsys.readouterr()
    second = run_health_checks(deps)
    assert second["counts"]["failing"] == 1
    anomaly = deps.orders.get_anomaly("channel_health", "bigcommerce#bc-demo")
    assert anomaly is not None and anomaly["priority"] == "P1" and "503" in anomaly["detail"]
    assert [n.title for n in deps.notifier.notices] == [  # type: ignore[attr-defined]
        "P1 channel_health: bigcommerce#bc-demo failing"
    ]
    stored = deps.ops_stats.latest()["bigcommerce#bc-demo"]
    assert stored.status is Health.FAILING and stored.alerted
    documents = emf(capsys.readouterr().out)
    failures = {
        d.get("platform", "*"): v for d, v in metric_values(documents, "ChannelHealthFailures")
    }
    assert failures["bigcommerce"] == 1.0 and failures["*"] == 1.0 and failures["shopify"] == 0.0
    assert {d["platform"] for d, _ in metric_values(documents, "ChannelHealthLatencyMs")} >= {
        "amazon",
        "jd",
        "tiktok",
    }

    platform.health.control.reset()
    run_health_checks(deps)
    assert deps.ops_stats.latest()["bigcommerce#bc-demo"].status is Health.OK
    assert deps.notifier.notices[-1].title == "recovered: channel_health bigcommerce#bc-demo"  # type: ignore[attr-defined]
    day = deps.now().date().isoformat()
    counts = {c.platform: c for c in deps.ops_stats.day_counts(day)}
    assert (counts["bigcommerce"].checks, counts["bigcommerce"].failures) == (3, 1)


def test_the_amazon_probe_reads_our_queue_and_its_dlq(deps):
    store = Store("amazon", "A1", "s")
    probe = AmazonQueueProbe(deps.sqs)
    assert interpret(probe.probe(store))[0] is Health.OK
    dlq = deps.sqs.get_queue_url(QueueName="orderhub-amazon-notifications-dlq")["QueueUrl"]
    deps.sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    status, why = interpret(probe.probe(store))
    assert status is Health.DEGRADED and "1 notification(s) parked" in why
    queue = deps.sqs.get_queue_url(QueueName="orderhub-amazon-notifications")["QueueUrl"]
    deps.sqs.set_queue_attributes(
        QueueUrl=queue, Attributes={"Policy": json.dumps({"Statement": []})}
    )
    assert interpret(probe.probe(store))[0] is Health.FAILING


def test_the_own_shop_probe_reads_the_last_receipt_from_the_trail(deps):
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=7)
    deps.trail.record_receipt("mall#demo-shop#m1", "mall", "demo-shop", at, 12, "msg-1")
    observation = LastWebhookProbe(deps.trail, deps.now).probe(Store("mall", "demo-shop", "s"))
    assert interpret(observation)[0] is Health.NO_PROBE
    assert observation.facts["last_webhook_at"] == at.isoformat()


# ---- the ops-stats contract --------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def records(request, aws, stack_env):
    if request.param == "fake":
        return FakeOpsStats()
    return Container(environ=stack_env).ops_stats


def test_contract_latest_state_round_trips_and_lists_every_store(records):
    a = StoreHealth(
        "shopify",
        "acme",
        Health.FAILING,
        NOW,
        "503",
        latency_ms=30,
        failures_in_row=2,
        failing_since=NOW - timedelta(minutes=5),
        alerted=True,
        facts={"topics": "x"},
    )
    b = StoreHealth("jd", "demo-jd", Health.OK, NOW, "ok", latency_ms=80, last_ok_at=NOW)
    records.save(a)
    records.save(b)
    records.save(StoreHealth("jd", "demo-jd", Health.DEGRADED, NOW, "slow", latency_ms=2500))
    latest = records.latest()
    assert latest["shopify#acme"] == a
    assert latest["jd#demo-jd"].status is Health.DEGRADED and len(latest) == 2


def test_contract_day_counters_add_up(records):
    states = [
        StoreHealth("shopify", "acme", Health.OK, NOW, "ok", latency_ms=100),
        StoreHealth(
            "shopify", "acme", Health.FAILING, NOW, "shopify answered HTTP 503", latency_ms=40
        ),
        StoreHealth("shopify", "acme", Health.DEGRADED, NOW, "slow", latency_ms=2500),
        StoreHealth("mall", "demo-shop", Health.NO_PROBE, NOW, "own shop"),
    ]
    for state in states:
        records.count("2026-11-25", state)
    counts = {c.platform: c for c in records.day_counts("2026-11-25")}
    assert counts["shopify"] == DayCount(
        "shopify",
        "acme",
        checks=3,
        failures=1,
        degraded=1,
        no_probe=0,
        latency_ms_total=2640,
        latency_samples=3,
        last_problem="shopify answered HTTP 503",
        last_problem_at=NOW.isoformat(),
    )
    assert (counts["mall"].checks, counts["mall"].no_probe, counts["mall"].latency_samples) == (
        1,
        1,
        0,
    )
    assert records.day_counts("2026-11-24") == []


def test_contract_summaries_and_kpis_round_trip(records):
    summary = HealthSummary(
        "2026-11-24", (StoreDay("jd", "demo-jd", 288, 1, 0, 99.65, 80, "x", "ok"),)
    )
    records.save_summary(summary)
    assert records.summary("2026-11-24") == summary and records.summary("2026-11-23") is None
    kpis = daily_kpis(date(2026, 11, 24), 100, {"out_of_stock": 1})
    records.save_kpis(kpis)
    assert records.kpis("2026-11-24") == kpis.to_dict() and records.kpis("2026-11-23") is None


# ---- the KPIs through indexes ------------------------------------------------------------------


def book(deps: Container, store: Store, order_id: str, at: datetime) -> None:
    event = OrderEvent(
        event_key=f"{store.platform}#{store.store_id}#{order_id}-paid",
        platform=store.platform,
        store=store.store_id,
        order_id=order_id,
        event_type="paid",
        status=PlatformStatus.PAID,
        updated_at=at,
        updated_at_raw=at.isoformat(),
        currency="CNY",
        lines=(OrderLine("TEA", 1, Decimal("88.00")),),
        buyer=Buyer("Li Lei", "13812345678", "1 Nanjing Road, Shanghai"),
        received_at=at,
    )
    result = process_order_event(
        event, deps.orders, lambda: BookingContext(now=at, warehouses=deps.warehouses())
    )
    assert result.outcome.value == "booked", result


def test_kpis_count_orders_placed_and_anomaly_episodes_opened_that_beijing_day(aws, stack_env):
    deps = Container(environ=stack_env, now=FixedClock(NOW))
    deps.catalog_store.put_warehouse(Warehouse("w1", "east", 1))
    adjust_stock(Adjustment("open", "TEA", "w1", "receipt", 100, "test"), deps.orders, deps.now)
    day = date(2026, 11, 25)
    start, end = day_bounds(day)
    jd = Store("jd", "demo-jd", "s", "Asia/Shanghai")
    mall = Store("mall", "demo-shop", "s", "Asia/Shanghai")
    for store in (jd, mall):
        deps.catalog_store.put_store(store)
    book(deps, jd, "J1", start)  # 00:00 Beijing: this day
    book(deps, jd, "J2", end - timedelta(seconds=1))
    book(deps, mall, "M1", start + timedelta(hours=9))
    book(deps, jd, "J0", start - timedelta(seconds=1))  # the day before
    sources = deps.kpi_sources
    assert sources.orders_placed("jd", "demo-jd", day) == 2
    assert sources.orders_placed("mall", "demo-shop", day) == 1

    opened = start + timedelta(hours=2)
    deps.orders.open_anomaly(Anomaly("out_of_stock", "jd#demo-jd#J9", Priority.P0, "short"), opened)
    deps.orders.open_anomaly(
        Anomaly("out_of_stock", "jd#demo-jd#J9", Priority.P0, "again"), opened + timedelta(hours=1)
    )  # a repeat
    deps.orders.open_anomaly(
        Anomaly("unknown_sku", "mall#demo-shop#M7", Priority.P1, "x"), end
    )  # next day
    record = deps.anomalies.get("out_of_stock#jd#demo-jd#J9")
    assert record is not None
    deps.anomalies.resolve(record, "ops@example.com", "cancelled", opened + timedelta(hours=2))
    deps.orders.open_anomaly(  # reopened the same day: a second episode
        Anomaly("out_of_stock", "jd#demo-jd#J9", Priority.P0, "short again"),
        opened + timedelta(hours=3),
    )
    assert sources.anomalies_opened("out_of_stock", start, end) == 2
    assert sources.anomalies_opened("unknown_sku", start, end) == 0
    assert sources.anomalies_opened("unknown_sku", end, end + timedelta(days=1)) == 1

    result = publish_kpis(deps, day)
    assert result["new_orders"] == 3 and result["anomalies_by_rule"] == {"out_of_stock": 2}
    assert result["oversell_rate_pct"] == pytest.approx(66.667)
    assert deps.ops_stats.kpis("2026-11-25") == result
