"""Each health probe reads its platform's answers into an observation (adapters/
health_probes.py), with canned HTTP answers and no sockets: credentials, rate-limit headers,
webhook subscriptions, refusals, timeouts, and the stores it cannot probe."""

from __future__ import annotations

import email.message
import io
import json
import urllib.error
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.adapters.health_probes import (
    AmazonQueueProbe,
    BigCommerceProbe,
    LastWebhookProbe,
    ShopifyProbe,
    TikTokProbe,
    WooCommerceProbe,
    amazon_may_send,
    bigcommerce_rate_limit,
    ours,
    shopify_call_limit,
)
from chalicelib.domain.channel_health import Credentials, Health, RateLimit, Webhook, interpret
from chalicelib.domain.ports import Store
from tests.fakes import FakeSecrets, FixedClock

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SHOP = Store("shopify", "acme", "s/shopify")
WOO = Store("woocommerce", "tea", "s/woo")
BC = Store("bigcommerce", "bc-demo", "s/bc")
TIKTOK = Store("tiktok", "tt", "s/tt")
SECRETS = FakeSecrets(
    {
        "s/shopify": {
            "webhook_secret": "w",
            "shop_domain": "acme.myshopify.com",
            "admin_api_token": "shpat_x",
        },
        "s/woo": {
            "webhook_secret": "w",
            "site_url": "https://tea.example",
            "consumer_key": "ck",
            "consumer_secret": "cs",
        },
        "s/bc": {"client_secret": "c", "store_hash": "abc123", "access_token": "tok"},
        "s/tt": {"app_key": "k", "app_secret": "s", "access_token": "t", "shop_cipher": "ROW_1"},
        "s/bare": {"webhook_secret": "w"},
    }
)


class _Response:
    def __init__(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers
        self._body = body if isinstance(body, bytes) else json.dumps(body).encode()

    def read(self) -> bytes:
        return self._body

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *args: Any) -> None:
        return None


class Opener:
    """Answers every request with one canned answer; remembers the requests."""

    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        error: Exception | None = None,
    ) -> None:
        self.status, self.body, self.headers, self.error = status, body, headers or {}, error
        self.requests: list[Any] = []

    def __call__(self, request: Any, timeout: float) -> _Response:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        if self.status >= 400:
            message = email.message.Message()
            for k, v in self.headers.items():
                message[k] = v
            raise urllib.error.HTTPError(
                request.full_url,
                self.status,
                "refused",
                message,
                io.BytesIO(json.dumps(self.body).encode()),
            )
        return _Response(self.status, self.body, self.headers)


def status_of(observation):
    return interpret(observation)[0]


# ---- header and address readers ---------------------------------------------------------------


def test_rate_limit_headers_read_as_what_is_left():
    assert shopify_call_limit("32/40") == RateLimit(8, 40)
    assert shopify_call_limit("40/40").headroom == 0.0
    assert shopify_call_limit(None) is None and shopify_call_limit("x/40") is None
    assert bigcommerce_rate_limit(
        {"x-rate-limit-requests-left": "12", "x-rate-limit-requests-quota": "150"}
    ) == RateLimit(12, 150)
    assert bigcommerce_rate_limit({}) is None


@pytest.mark.parametrize(
    ("address", "mine"),
    [
        ("https://api.example.com/api/webhooks/shopify/acme", True),
        ("https://api.example.com/webhooks/shopify/acme/", True),
        ("https://api.example.com/webhooks/shopify/acme-2", False),
        ("https://api.example.com/webhooks/woocommerce/acme", False),
        (None, False),
    ],
)
def test_our_subscription_is_recognised_by_its_path_on_any_host(address, mine):
    assert ours(address, "shopify", "acme") is mine


def test_the_amazon_queue_policy_must_still_let_amazon_send():
    good = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::437568002678:root"},
                "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
            }
        ]
    }
    assert amazon_may_send(json.dumps(good))
    other = json.loads(json.dumps(good))
    other["Statement"][0]["Principal"] = {"AWS": "arn:aws:iam::111111111111:root"}
    assert not amazon_may_send(json.dumps(other))
    assert not amazon_may_send(None) and not amazon_may_send("{not json")


# ---- Shopify -----------------------------------------------------------------------------------


def shopify(opener: Opener, secrets=SECRETS) -> ShopifyProbe:
    return ShopifyProbe(secrets, "", "2025-07", opener=opener, now=FixedClock(NOW))


def test_shopify_lists_our_subscription_with_call_limit_headroom():
    opener = Opener(
        body={
            "webhooks": [
                {"address": "https://oh.example/webhooks/shopify/acme", "topic": "orders/create"}
            ]
        },
        headers={"X-Shopify-Shop-Api-Call-Limit": "1/40"},
    )
    seen = shopify(opener).probe(SHOP)
    assert status_of(seen) is Health.OK
    assert seen.credentials is Credentials.VALID and seen.webhook is Webhook.PRESENT
    assert seen.rate_limit == RateLimit(39, 40) and seen.facts["topics"] == "orders/create"
    request = opener.requests[0]
    assert (
        request.full_url == "https://acme.myshopify.com/admin/api/2025-07/webhooks.json?limit=250"
    )
    assert request.get_header("X-shopify-access-token") == "shpat_x"


def test_shopify_without_our_subscription_fails_naming_the_8_failures_rule():
    seen = shopify(Opener(body={"webhooks": [{"address": "https://x/other"}]})).probe(SHOP)
    assert status_of(seen) is Health.FAILING and seen.webhook is Webhook.MISSING
    assert "8 failed deliveries" in seen.problem


def test_shopify_check_webhooks_false_skips_the_subscription_check():
    secrets = FakeSecrets(
        {"s/shopify": {**SECRETS.get_secret("s/shopify"), "check_webhooks": False}}
    )
    seen = shopify(Opener(body={"webhooks": []}), secrets).probe(SHOP)
    assert status_of(seen) is Health.OK and seen.webhook is Webhook.UNKNOWN


@pytest.mark.parametrize(
    ("status", "health", "credentials"),
    [
        (401, Health.FAILING, Credentials.REFUSED),
        (403, Health.FAILING, Credentials.REFUSED),
        (404, Health.FAILING, Credentials.UNKNOWN),
        (503, Health.FAILING, Credentials.UNKNOWN),
        (429, Health.DEGRADED, Credentials.UNKNOWN),
    ],
)
def test_shopify_error_statuses(status, health, credentials):
    seen = shopify(Opener(status=status, body={"errors": "no"})).probe(SHOP)
    assert status_of(seen) is health and seen.credentials is credentials


def test_a_timeout_or_refused_connection_is_a_failure_not_an_exception():
    for error in (
        TimeoutError("timed out"),
        urllib.error.URLError(ConnectionRefusedError(111, "refused")),
    ):
        seen = shopify(Opener(error=error)).probe(SHOP)
        assert status_of(seen) is Health.FAILING and "unreachable" in seen.problem


def test_a_store_without_probe_credentials_is_not_probed_and_says_which_fields():
    bare = Store("shopify", "bare", "s/bare")
    opener = Opener()
    seen = shopify(opener).probe(bare)
    assert status_of(seen) is Health.NO_PROBE and "admin_api_token" in seen.problem
    assert opener.requests == []
    missing = shopify(opener, FakeSecrets({})).probe(SHOP)
    assert status_of(missing) is Health.FAILING and "cannot be read" in missing.problem


# ---- WooCommerce and BigCommerce ---------------------------------------------------------------


def test_woocommerce_basic_auth_and_a_disabled_webhook_fails():
    hook = {
        "delivery_url": "https://oh.example/webhooks/woocommerce/tea",
        "status": "disabled",
        "topic": "order.updated",
    }
    opener = Opener(body=[hook])
    seen = WooCommerceProbe(SECRETS, opener=opener).probe(WOO)
    assert status_of(seen) is Health.FAILING and seen.webhook is Webhook.INACTIVE
    assert "about 5 failed deliveries" in seen.problem
    request = opener.requests[0]
    assert request.full_url.startswith("https://tea.example/wp-json/wc/v3/webhooks?")
    assert request.get_header("Authorization") == "Basic Y2s6Y3M="  # ck:cs
    hook["status"] = "active"
    assert status_of(WooCommerceProbe(SECRETS, opener=Opener(body=[hook])).probe(WOO)) is Health.OK


def test_bigcommerce_hooks_and_rate_limit_from_headers():
    hooks = {
        "data": [
            {
                "destination": "https://oh.example/webhooks/bigcommerce/bc-demo",
                "is_active": True,
                "scope": "store/order/created",
            }
        ]
    }
    headers = {"X-Rate-Limit-Requests-Left": "10", "X-Rate-Limit-Requests-Quota": "150"}
    opener = Opener(body=hooks, headers=headers)
    seen = BigCommerceProbe(SECRETS, "https://api.example", opener=opener).probe(BC)
    assert opener.requests[0].full_url == "https://api.example/stores/abc123/v3/hooks"
    assert seen.rate_limit == RateLimit(10, 150)
    assert status_of(seen) is Health.DEGRADED  # 10/150 is under 10 % left
    hooks["data"][0]["is_active"] = False
    inactive = BigCommerceProbe(SECRETS, opener=Opener(body=hooks)).probe(BC)
    assert inactive.webhook is Webhook.INACTIVE and "48 h" in inactive.problem


# ---- TikTok ------------------------------------------------------------------------------------


def test_tiktok_token_valid_but_no_longer_covering_the_shop_fails():
    answer = {"code": 0, "message": "Success", "data": {"shops": [{"cipher": "ROW_OTHER"}]}}
    opener = Opener(body=answer)
    seen = TikTokProbe(SECRETS, "https://tt.example", opener=opener, now=FixedClock(NOW)).probe(
        TIKTOK
    )
    assert status_of(seen) is Health.FAILING and "ROW_1" in seen.problem
    url = opener.requests[0].full_url
    assert url.startswith("https://tt.example/authorization/202309/shops?app_key=k&timestamp=")
    assert "sign=" in url and "access_token" not in url


def test_tiktok_envelope_refusal_is_refused_credentials():
    opener = Opener(body={"code": 105001, "message": "access token is invalid"})
    seen = TikTokProbe(SECRETS, opener=opener, now=FixedClock(NOW)).probe(TIKTOK)
    assert seen.credentials is Credentials.REFUSED and "105001" in seen.problem


# ---- Amazon and the own shop -------------------------------------------------------------------


class FakeSqs:
    def __init__(self, policy: str | None, parked: int = 0, error: Exception | None = None):
        self.policy, self.parked, self.error = policy, parked, error

    def get_queue_url(self, **kwargs: Any) -> dict[str, str]:
        if self.error:
            raise self.error
        return {"QueueUrl": f"https://sqs/{kwargs['QueueName']}"}

    def get_queue_attributes(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["QueueUrl"].endswith("-dlq"):
            return {"Attributes": {"ApproximateNumberOfMessages": str(self.parked)}}
        attrs = {"ApproximateNumberOfMessages": "2", "ApproximateNumberOfMessagesNotVisible": "0"}
        if self.policy is not None:
            attrs["Policy"] = self.policy
        return {"Attributes": attrs}


AMAZON = Store("amazon", "A1", "s/amazon")
POLICY = json.dumps(
    {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "437568002678"}, "Action": "sqs:SendMessage"}
        ]
    }
)


def test_amazon_checks_our_queue_its_policy_and_its_dlq():
    ok = AmazonQueueProbe(FakeSqs(POLICY)).probe(AMAZON)
    assert status_of(ok) is Health.OK and ok.facts["queue_visible"] == "2"
    assert ok.credentials is Credentials.UNKNOWN  # SP-API itself is not called
    parked = AmazonQueueProbe(FakeSqs(POLICY, parked=3)).probe(AMAZON)
    assert status_of(parked) is Health.DEGRADED and "3 notification(s)" in parked.warnings[0]
    no_policy = AmazonQueueProbe(FakeSqs(None)).probe(AMAZON)
    assert status_of(no_policy) is Health.FAILING and "437568002678" in no_policy.problem
    gone = AmazonQueueProbe(FakeSqs(POLICY, error=RuntimeError("QueueDoesNotExist"))).probe(AMAZON)
    assert status_of(gone) is Health.FAILING


class FakeReceipts:
    def __init__(self, by_day: dict[str, list[str]]) -> None:
        self.by_day = by_day

    def receipts(self, platform: str, store: str, day: str) -> list[dict[str, Any]]:
        return [{"received_at": at} for at in self.by_day.get(day, [])]


def test_the_own_shop_reports_its_last_webhook_and_is_never_a_failure():
    trail = FakeReceipts({"2026-11-24": ["2026-11-24T22:00:00+00:00", "2026-11-24T23:30:00+00:00"]})
    seen = LastWebhookProbe(trail, FixedClock(NOW)).probe(Store("mall", "demo-shop", "s"))
    assert status_of(seen) is Health.NO_PROBE
    assert seen.facts["seconds_since_last_webhook"] == str(int(8.5 * 3600))
    quiet = LastWebhookProbe(FakeReceipts({}), FixedClock(NOW)).probe(Store("mall", "x", "s"))
    assert status_of(quiet) is Health.NO_PROBE and "no webhook received" in quiet.problem
