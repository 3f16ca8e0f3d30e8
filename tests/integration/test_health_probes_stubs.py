"""Every HTTP health probe against the real local stubs on loopback (local/stub_platform.py
with local/stub_health.py, local/stub_pull.py), with the seeded stores' credentials, as the
local stack wires them: healthy, then told over `POST /_stub/health` to fail, to slow down
past the probe's timeout, or to drop our webhook subscription; and with wrong credentials."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from chalicelib.adapters.health_probes import build_health_probes
from chalicelib.adapters.pull_clients import RouterTransport
from chalicelib.domain.channel_health import Credentials, Health, HealthProbe, Webhook, interpret
from chalicelib.domain.ports import Store
from chalicelib.domain.stores import secret_name
from local.stub_platform import StubPlatform
from local.stub_pull import JD_PATH, PDD_PATH, TAOBAO_PATH, PullStub, seeded_credentials
from tests.conftest import ROOT
from tests.fakes import FakeSecrets

SEED = json.loads((ROOT / "local" / "seed.json").read_text())["stores"]
PROBED = ("shopify", "woocommerce", "bigcommerce", "tiktok", "douyin", "taobao", "pinduoduo", "jd")
STORES = {
    s["platform"]: Store(
        s["platform"],
        s["store_id"],
        secret_name(s["platform"], s["store_id"]),
        s.get("timezone", "UTC"),
    )
    for s in SEED
    if s["platform"] in PROBED
}


@dataclass
class Stubs:
    platform: StubPlatform
    pull: PullStub

    def control(self, **body: Any) -> None:
        response = requests.post(f"{self.platform.url}/_stub/health", json=body, timeout=5)
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def stubs() -> Iterator[Stubs]:
    platform = StubPlatform(port=0).start()
    pull = PullStub(seeded_credentials(SEED), port=0, health=platform.health.control).start()
    yield Stubs(platform, pull)
    pull.stop()
    platform.stop()


@pytest.fixture(autouse=True)
def healed(stubs: Stubs) -> Iterator[None]:
    stubs.control(reset=True)
    yield
    stubs.control(reset=True)


def probes(
    stubs: Stubs, timeout: float = 5.0, secrets: FakeSecrets | None = None
) -> dict[str, HealthProbe]:
    secrets = secrets or FakeSecrets(
        {secret_name(s["platform"], s["store_id"]): s["credentials"] for s in SEED}
    )
    url, pull = stubs.platform.url, stubs.pull.url
    return build_health_probes(
        secrets,
        RouterTransport(timeout=timeout),
        sqs=None,  # type: ignore[arg-type]  # not used by these platforms
        trail=None,  # type: ignore[arg-type]
        shopify_api_url=url,
        woocommerce_api_url=url,
        bigcommerce_api_url=url,
        tiktok_api_url=url,
        douyin_api_url=url,
        taobao_api_url=f"{pull}{TAOBAO_PATH}",
        pdd_api_url=f"{pull}{PDD_PATH}",
        jd_api_url=f"{pull}{JD_PATH}",
        timeout=timeout,
    )


@pytest.mark.parametrize("platform", PROBED)
def test_every_seeded_store_is_healthy_against_its_stub(stubs, platform):
    observation = probes(stubs)[platform].probe(STORES[platform])
    assert interpret(observation) == (Health.OK, "ok"), observation
    assert observation.credentials is Credentials.VALID
    assert observation.latency_ms is not None and observation.latency_ms < 2000


def test_what_each_probe_reads_from_its_platforms_answer(stubs):
    found = {p: probes(stubs)[p].probe(STORES[p]) for p in PROBED}
    assert found["shopify"].rate_limit is not None and found["shopify"].rate_limit.text() == "39/40"
    assert found["bigcommerce"].rate_limit is not None
    assert found["bigcommerce"].rate_limit.text() == "149/150"
    assert found["woocommerce"].rate_limit is None  # Woo sends no rate-limit headers
    for platform in ("shopify", "woocommerce", "bigcommerce"):
        assert found[platform].webhook is Webhook.PRESENT, platform
    for platform in ("tiktok", "douyin"):
        assert found[platform].webhook is Webhook.UNKNOWN, platform
    for platform in ("taobao", "pinduoduo", "jd"):
        assert found[platform].webhook is Webhook.NOT_APPLICABLE, platform
    assert found["shopify"].facts["topics"] == "orders/cancelled,orders/create,orders/updated"
    assert found["tiktok"].facts["authorized_shops"] == "1"
    calls = requests.get(f"{stubs.platform.url}/_stub/health", timeout=5).json()["calls"]
    assert "GET /admin/api/2025-07/webhooks.json" in calls and "POST /order/searchList" in calls


@pytest.mark.parametrize("platform", PROBED)
def test_a_platform_told_to_fail_fails_its_probe_and_heals(stubs, platform):
    stubs.control(platform=platform, status=503)
    failing = probes(stubs)[platform].probe(STORES[platform])
    status, why = interpret(failing)
    assert status is Health.FAILING and "503" in why, why
    others = [p for p in PROBED if p != platform]
    assert interpret(probes(stubs)[others[0]].probe(STORES[others[0]]))[0] is Health.OK
    stubs.control(platform=platform)  # heal
    assert interpret(probes(stubs)[platform].probe(STORES[platform]))[0] is Health.OK


@pytest.mark.parametrize("platform", ["bigcommerce", "jd"])
def test_a_platform_slower_than_the_probe_timeout_fails(stubs, platform):
    stubs.control(platform=platform, delay_ms=1500)
    observation = probes(stubs, timeout=0.5)[platform].probe(STORES[platform])
    status, why = interpret(observation)
    assert status is Health.FAILING and ("timed out" in why or "unreachable" in why), why


def test_a_slow_platform_within_the_timeout_is_degraded_with_its_latency(stubs):
    stubs.control(platform="shopify", delay_ms=2100)
    observation = probes(stubs)["shopify"].probe(STORES["shopify"])
    status, why = interpret(observation)
    assert status is Health.DEGRADED and "slow" in why
    assert observation.latency_ms is not None and observation.latency_ms >= 2100


@pytest.mark.parametrize(
    ("platform", "webhook", "state"),
    [
        ("shopify", "missing", Webhook.MISSING),
        ("shopify", "inactive", Webhook.MISSING),  # Shopify deletes, it never disables
        ("woocommerce", "missing", Webhook.MISSING),
        ("woocommerce", "inactive", Webhook.INACTIVE),
        ("bigcommerce", "missing", Webhook.MISSING),
        ("bigcommerce", "inactive", Webhook.INACTIVE),
    ],
)
def test_a_lost_webhook_subscription_fails_the_store(stubs, platform, webhook, state):
    stubs.control(platform=platform, webhook=webhook)
    observation = probes(stubs)[platform].probe(STORES[platform])
    assert observation.webhook is state
    assert interpret(observation)[0] is Health.FAILING


@pytest.mark.parametrize("platform", PROBED)
def test_wrong_credentials_are_refused(stubs, platform):
    wrong = {}
    for s in SEED:
        credentials = dict(s["credentials"])
        for field in ("admin_api_token", "consumer_secret", "access_token", "session"):
            if field in credentials:
                credentials[field] = "expired-or-wrong"
        wrong[secret_name(s["platform"], s["store_id"])] = credentials
    observation = probes(stubs, secrets=FakeSecrets(wrong))[platform].probe(STORES[platform])
    assert observation.credentials is Credentials.REFUSED, observation
    assert interpret(observation)[0] is Health.FAILING


def test_the_control_refuses_nonsense(stubs):
    url = f"{stubs.platform.url}/_stub/health"
    assert requests.post(url, json={"platform": "myspace"}, timeout=5).status_code == 400
    assert (
        requests.post(url, json={"platform": "jd", "status": "down"}, timeout=5).status_code == 400
    )
    assert (
        requests.post(url, json={"platform": "jd", "webhook": "gone"}, timeout=5).status_code == 400
    )
