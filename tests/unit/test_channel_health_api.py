"""The channel health handlers over the fake stack: the 5-minute job (anomaly, notice, EMF
metrics per platform and in total), the daily summary, and `GET /ops/channel-health`."""

from __future__ import annotations

import json
from datetime import timedelta

from chalicelib.domain.channel_health import DayCount, Health, Observation, StoreHealth
from chalicelib.domain.ports import Store
from tests.ops_fakes import FakeProbe
from tests.unit.test_http_api import KEY

AUTH = {"Authorization": f"Bearer {KEY}"}


def emf(out: str) -> list[dict]:
    """The EMF documents printed to stdout."""
    documents = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_values(documents: list[dict], name: str) -> list[tuple[dict, float]]:
    found = []
    for doc in documents:
        names = [m["Name"] for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
        if name in names:
            dims = {
                k: doc[k]
                for d in doc["_aws"]["CloudWatchMetrics"]
                for ds in d["Dimensions"]
                for k in ds
            }
            value = doc[name]
            found.append((dims, value[0] if isinstance(value, list) else value))
    return found


def add_stores(deps) -> tuple[FakeProbe, FakeProbe]:
    deps.catalog.put_store(Store("shopify", "acme", "s/shopify"))
    deps.catalog.put_store(Store("bigcommerce", "bc", "s/bc"))
    shop, bc = FakeProbe(Observation(answered=True, latency_ms=150)), FakeProbe()
    deps.health_probes.update({"shopify": shop, "bigcommerce": bc})
    return shop, bc


def run_job(client, name: str) -> dict:
    event = client.events.generate_cw_event("", "", {}, [])
    return dict(client.lambda_.invoke(name, event).payload)


def test_the_job_checks_every_store_and_emits_latency_and_failures_per_platform(
    client, deps, capsys
):
    shop, _ = add_stores(deps)
    capsys.readouterr()
    shop.observation = Observation.unreachable("shopify answered HTTP 503", 40)
    result = run_job(client, "check_channel_health")
    assert result["counts"] == {"failing": 1, "ok": 1, "no_probe": 1}
    failing = next(s for s in result["stores"] if s["platform"] == "shopify")
    assert failing["notified"] == "failing" and failing["status"] == "failing"
    assert deps.notifier.notices[0].title == "P1 channel_health: shopify#acme failing"
    documents = emf(capsys.readouterr().out)
    per_platform = {
        d["platform"]: v
        for d, v in metric_values(documents, "ChannelHealthFailures")
        if "platform" in d
    }
    assert per_platform == {"shopify": 1.0, "bigcommerce": 0.0}  # mall has no probe: no metric
    totals = [
        v for d, v in metric_values(documents, "ChannelHealthFailures") if "platform" not in d
    ]
    assert totals == [1.0]
    latency = {d["platform"]: v for d, v in metric_values(documents, "ChannelHealthLatencyMs")}
    assert latency == {"shopify": 40.0, "bigcommerce": 120.0}
    for dims, _ in metric_values(documents, "ChannelHealthLatencyMs"):
        assert dims["service"] == "orderhub"  # the alarms and dashboard name this dimension
    assert [v for _, v in metric_values(documents, "ChannelHealthChecks")] == [3.0]


def test_get_channel_health_lists_the_latest_check_of_every_store(client, deps):
    add_stores(deps)
    deps.health_probes["shopify"].observation = Observation.refused("shopify answered 401")
    run_job(client, "check_channel_health")
    response = client.http.get("/ops/channel-health", headers=AUTH)
    assert response.status_code == 200
    body = response.json_body
    assert [(s["platform"], s["status"]) for s in body["stores"]] == [
        ("bigcommerce", "ok"),
        ("mall", "no_probe"),
        ("shopify", "failing"),
    ]
    assert body["failing"] == ["shopify#acme"]
    shop = body["stores"][2]
    assert shop["credentials"] == "refused" and shop["failures_in_row"] == 1
    assert client.http.get("/ops/channel-health").status_code == 401


def test_the_daily_summary_is_stored_sent_and_served_by_date(client, deps):
    yesterday = (deps.now() - timedelta(days=1)).date().isoformat()
    deps.ops_stats.days[yesterday] = {
        "shopify#acme": DayCount(
            "shopify",
            "acme",
            checks=288,
            failures=6,
            latency_ms_total=2880,
            latency_samples=282,
            last_problem="503",
        ),
    }
    deps.ops_stats.states["shopify#acme"] = StoreHealth(
        "shopify", "acme", Health.OK, deps.now(), "ok"
    )
    result = run_job(client, "channel_health_summary")
    assert result["day"] == yesterday and result["notified"] is True
    assert result["stores"][0]["availability_pct"] == 97.92
    notice = deps.notifier.notices[-1]
    assert (notice.kind, notice.priority) == ("health", "info")
    served = client.http.get(f"/ops/channel-health?date={yesterday}", headers=AUTH)
    assert served.status_code == 200 and served.json_body["stores_with_failures"] == 1
    missing = client.http.get("/ops/channel-health?date=2020-01-01", headers=AUTH)
    assert missing.status_code == 404 and missing.json_body["error"] == "not_found"
    bad = client.http.get("/ops/channel-health?date=yesterday", headers=AUTH)
    assert bad.status_code == 400


def test_a_summary_that_cannot_be_sent_is_still_stored(client, deps):
    deps.notifier.error = RuntimeError("no route for info")
    result = run_job(client, "channel_health_summary")
    assert result["notified"] is False and result["day"] in deps.ops_stats.summaries
