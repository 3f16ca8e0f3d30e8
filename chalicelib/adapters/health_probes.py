"""One health probe per platform: a cheap authenticated call, read as an `Observation`.

Each probe calls the same URLs, with the same credentials and signatures, as the platform
adapters it stands for (or as the platform documents for the check); base URLs are the same
settings, so locally the stubs answer through the same code path. Probes never raise: every
answer, refusal, timeout (`PROBE_TIMEOUT`, 5 s) or crash becomes an observation.

Per platform: the call; how refused credentials show; rate-limit headroom; the webhook check.
- shopify: `GET {https://shop_domain}/admin/api/{version}/webhooks.json`
  (`X-Shopify-Access-Token`); 401/403; `X-Shopify-Shop-Api-Call-Limit: used/bucket`; an entry
  whose `address` ends `/webhooks/shopify/{store}` (Shopify deletes it after 8 failed
  deliveries, so absent = failing).
- woocommerce: `GET {site_url}/wp-json/wc/v3/webhooks?status=all&per_page=100` (HTTP Basic,
  consumer key/secret); 401/403; no rate-limit headers (unknown); `delivery_url` ending
  `/webhooks/woocommerce/{store}` with `status` active (Woo disables one after ~5 failures).
- bigcommerce: `GET {api}/stores/{hash}/v3/hooks` (`X-Auth-Token`); 401/403;
  `X-Rate-Limit-Requests-Left` / `-Quota`; `destination` ending `/webhooks/bigcommerce/{store}`
  with `is_active` (deactivated after 48 h of failed retries).
- tiktok: `GET {api}/authorization/202309/shops` (Get Authorized Shops, signed as the order
  API, `x-tts-access-token`); envelope `code` other than 0; unknown; unknown (the webhook URL
  is Partner Center configuration) - but the store's `shop_cipher` must be among the shops.
- douyin: `POST {api}/order/searchList` (signed as order.orderDetail, one row of the last 5
  minutes); envelope `code` other than 10000; unknown; unknown (the push URL is app config).
- taobao: `taobao.user.seller.get` (`fields=nick`: needs the seller's session) on the TOP
  router; `error_response` credential codes; unknown; n/a (pulled). Not TMC consume: that
  would hand out order messages.
- pinduoduo / jd: the pollers' own query (`pdd.order.number.list.increment.get`,
  `jingdong.pop.order.search`) over one second a minute ago; `error_response` wording;
  unknown; n/a.
- amazon: no SP-API call (OrderHub holds no SP-API credentials): our queue
  `orderhub-amazon-notifications` answers, its policy still lets Amazon's notifications
  account send (else "missing"), its DLQ depth (a warning). The SP-API subscription itself
  cannot be read.
- mall: no API (own shop): `no_probe`, reporting when its last webhook arrived (the trail's
  `store_day` index, today or yesterday, UTC).

Shopify and WooCommerce need probe credentials the webhooks do not (docs/platforms.md):
`shop_domain` + `admin_api_token`, and `site_url` + `consumer_key` + `consumer_secret`. A
store whose secret lacks them is reported `no_probe`, naming the fields, not as failing.
`"check_webhooks": false` in a Shopify or WooCommerce secret skips the subscription check
(subscriptions made by hand in Shopify's admin are not visible to the API).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from chalicelib.adapters.pull_clients import RouterTransport
from chalicelib.channels import douyin_api, jd, pinduoduo, taobao, tiktok_api
from chalicelib.channels.bigcommerce import api_credentials
from chalicelib.channels.douyin_api_signature import API_VERSION, douyin_api_sign, param_json
from chalicelib.channels.pull import PullCredentials, pull_credentials
from chalicelib.channels.tiktok_api_signature import tiktok_api_sign
from chalicelib.domain.channel_health import (
    Credentials,
    HealthProbe,
    Observation,
    RateLimit,
    Webhook,
)
from chalicelib.domain.errors import OrderHubError
from chalicelib.domain.polling import (
    PlatformCredentialsRejected,
    PlatformRequestRejected,
    PlatformUnavailable,
    Window,
)
from chalicelib.domain.ports import SecretSource, Store
from chalicelib.domain.rotation import effective_secret
from chalicelib.domain.timeutil import utc_now
from chalicelib.settings import resource_name

PROBE_TIMEOUT = 5.0  # seconds: longer is a failure (the schedule runs every 5 minutes)
DEFAULT_SHOPIFY_API_VERSION = "2025-07"
TIKTOK_SHOPS_PATH = "/authorization/202309/shops"
DOUYIN_SEARCH_PATH = "/order/searchList"
DOUYIN_SEARCH_METHOD = "order.searchList"
TAOBAO_SELLER_METHOD = "taobao.user.seller.get"
AMAZON_ACCOUNT = "437568002678"  # SP-API's notifications account (the queue policy's principal)
AMAZON_QUEUE = "orderhub-amazon-notifications"
AMAZON_DLQ = "orderhub-amazon-notifications-dlq"

Opener = Callable[..., Any]


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]  # names lower-case
    body: bytes
    latency_ms: int


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _exchange(opener: Opener, request: urllib.request.Request, timeout: float) -> HttpAnswer:
    """One request, error statuses included; network failures and timeouts raise OSError."""
    started = time.monotonic()
    try:
        with opener(request, timeout=timeout) as response:
            status = int(getattr(response, "status", 200))
            headers = response.headers
            body = response.read()
    except urllib.error.HTTPError as exc:
        status, headers = exc.code, exc.headers
        try:
            body = exc.read() or b""
        except (OSError, AttributeError):
            body = b""
    names = {str(k).lower(): str(v) for k, v in (headers.items() if headers else [])}
    return HttpAnswer(status, names, body, _elapsed_ms(started))


def ours(address: Any, platform: str, store_id: str) -> bool:
    """Whether a subscription's address is this store's webhook URL (any host: the API's
    public domain is not a setting OrderHub has)."""
    if not isinstance(address, str) or not address.strip():
        return False
    path = urlsplit(address.strip()).path.rstrip("/")
    return path.endswith(f"/webhooks/{platform}/{store_id}")


def _json(answer: HttpAnswer) -> Any:
    return json.loads(answer.body, parse_float=Decimal)


def _text(secret: Mapping[str, Any], name: str) -> str:
    value = secret.get(name)
    return value.strip() if isinstance(value, str) else ""


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def shopify_call_limit(header: str | None) -> RateLimit | None:
    """`X-Shopify-Shop-Api-Call-Limit: 32/40` (used of the bucket) as what is left."""
    used, _, bucket = (header or "").partition("/")
    if not (used.strip().isdigit() and bucket.strip().isdigit()):
        return None
    return RateLimit(max(0, int(bucket) - int(used)), int(bucket))


def bigcommerce_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    left = _int_header(headers, "x-rate-limit-requests-left")
    return (
        None
        if left is None
        else RateLimit(left, _int_header(headers, "x-rate-limit-requests-quota"))
    )


class _Probe(ABC):
    """What the HTTP probes share: reading the secret, the call, the common answers."""

    platform = ""

    def __init__(
        self,
        secrets: SecretSource,
        base_url: str = "",
        timeout: float = PROBE_TIMEOUT,
        opener: Opener = urllib.request.urlopen,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._secrets = secrets
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._open = opener
        self._now = now

    def _secret(self, store: Store) -> Mapping[str, Any]:
        return self._secrets.get_secret(store.secret_name)

    def probe(self, store: Store) -> Observation:
        try:
            secret = self._secret(store)
        except Exception as exc:  # Secrets Manager down, secret deleted or not JSON
            return Observation.unreachable(
                f"the store's secret {store.secret_name} cannot be read: {type(exc).__name__}"
            )
        try:
            return self._probe(store, secret)
        except OrderHubError as exc:  # credentials the secret lacks, and the like
            return Observation.unreachable(exc.message)
        except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
            why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            return Observation.unreachable(
                f"{self.platform} API unreachable: {type(why).__name__ if not str(why) else why}"
            )

    @abstractmethod
    def _probe(self, store: Store, secret: Mapping[str, Any]) -> Observation:
        """This platform's check: one authenticated call, read into an observation."""

    def _get(self, url: str, headers: Mapping[str, str]) -> HttpAnswer:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", **headers}, method="GET"
        )
        return _exchange(self._open, request, self._timeout)

    def _refusal(self, answer: HttpAnswer, fix: str) -> Observation | None:
        """The observation a non-2xx answer means (None for 2xx)."""
        status, latency = answer.status, answer.latency_ms
        if 200 <= status < 300:
            return None
        if status in (401, 403):
            return Observation.refused(f"{self.platform} answered {status}: {fix}", latency)
        if status == 429:
            return Observation(
                answered=True,
                latency_ms=latency,
                rate_limit=RateLimit(0),
                webhook=Webhook.UNKNOWN,
                warnings=(f"{self.platform} rate-limited the probe (429)",),
            )
        if status == 404:
            return Observation.unreachable(
                f"{self.platform} answered 404: the shop, store hash or API path does not exist "
                f"(check the store's secret and the base URL setting)",
                latency,
            )
        return Observation.unreachable(f"{self.platform} answered HTTP {status}", latency)

    def _unreadable(self, answer: HttpAnswer, why: str) -> Observation:
        return Observation.unreachable(
            f"{self.platform}'s answer is not one OrderHub can read: {why}", answer.latency_ms
        )


def _subscription(
    found: Sequence[Mapping[str, Any]], active: Callable[[Mapping[str, Any]], bool]
) -> Webhook:
    if not found:
        return Webhook.MISSING
    return Webhook.PRESENT if any(active(h) for h in found) else Webhook.INACTIVE


class ShopifyProbe(_Probe):
    platform = "shopify"

    def __init__(
        self,
        secrets: SecretSource,
        base_url: str = "",
        api_version: str = DEFAULT_SHOPIFY_API_VERSION,
        timeout: float = PROBE_TIMEOUT,
        opener: Opener = urllib.request.urlopen,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(secrets, base_url, timeout, opener, now)
        self._version = api_version or DEFAULT_SHOPIFY_API_VERSION

    def _probe(self, store: Store, secret: Mapping[str, Any]) -> Observation:
        domain, token = _text(secret, "shop_domain"), _text(secret, "admin_api_token")
        if not domain or not token:
            return Observation.no_probe(
                f"not checked: add shop_domain and admin_api_token to secret {store.secret_name} "
                "(docs/platforms.md) to check credentials and the webhook subscription"
            )
        base = self._base or f"https://{domain}"
        answer = self._get(
            f"{base}/admin/api/{self._version}/webhooks.json?limit=250",
            {"X-Shopify-Access-Token": token},
        )
        refused = self._refusal(answer, f"fix admin_api_token in secret {store.secret_name}")
        if refused is not None:
            return refused
        try:
            hooks = _json(answer).get("webhooks")
            if not isinstance(hooks, list):
                raise ValueError("webhooks is not a list")
        except (ValueError, AttributeError) as exc:
            return self._unreadable(answer, str(exc))
        found = [
            h
            for h in hooks
            if isinstance(h, dict) and ours(h.get("address"), "shopify", store.store_id)
        ]
        webhook = _subscription(found, lambda h: True)
        if secret.get("check_webhooks") is False:
            webhook = Webhook.UNKNOWN
        problem = ""
        if webhook is Webhook.MISSING:
            problem = (
                f"Shopify lists no webhook subscription to /webhooks/shopify/{store.store_id} "
                "(Shopify deletes one after 8 failed deliveries): find why deliveries failed "
                "(the API's 4xx/5xx, the DLQ), then subscribe again"
            )
        return Observation(
            answered=True,
            credentials=Credentials.VALID,
            latency_ms=answer.latency_ms,
            rate_limit=shopify_call_limit(answer.headers.get("x-shopify-shop-api-call-limit")),
            webhook=webhook,
            problem=problem,
            facts={
                "topics": ",".join(sorted(str(h.get("topic", "")) for h in found)),
                "api_version": self._version,
            },
        )


class WooCommerceProbe(_Probe):
    platform = "woocommerce"

    def _probe(self, store: Store, secret: Mapping[str, Any]) -> Observation:
        site = _text(secret, "site_url")
        key, key_secret = _text(secret, "consumer_key"), _text(secret, "consumer_secret")
        if not site or not key or not key_secret:
            return Observation.no_probe(
                f"not checked: add site_url, consumer_key and consumer_secret to secret "
                f"{store.secret_name} (docs/platforms.md) to check credentials and the webhook"
            )
        base = self._base or site.rstrip("/")
        basic = base64.b64encode(f"{key}:{key_secret}".encode()).decode("ascii")
        answer = self._get(
            f"{base}/wp-json/wc/v3/webhooks?status=all&per_page=100",
            {"Authorization": f"Basic {basic}"},
        )
        refused = self._refusal(
            answer,
            f"fix consumer_key/consumer_secret in secret {store.secret_name} (the key needs "
            "Read access)",
        )
        if refused is not None:
            return refused
        try:
            hooks = _json(answer)
            if not isinstance(hooks, list):
                raise ValueError("the answer is not a JSON array")
        except ValueError as exc:
            return self._unreadable(answer, str(exc))
        found = [
            h
            for h in hooks
            if isinstance(h, dict) and ours(h.get("delivery_url"), "woocommerce", store.store_id)
        ]
        webhook = _subscription(found, lambda h: str(h.get("status", "")).lower() == "active")
        if secret.get("check_webhooks") is False:
            webhook = Webhook.UNKNOWN
        problem = ""
        if webhook is Webhook.MISSING:
            problem = (
                f"WooCommerce lists no webhook delivering to /webhooks/woocommerce/"
                f"{store.store_id}: add it (Settings → Advanced → Webhooks)"
            )
        elif webhook is Webhook.INACTIVE:
            states = ",".join(sorted(str(h.get("status")) for h in found))
            problem = (
                f"WooCommerce's webhook to /webhooks/woocommerce/{store.store_id} is {states} "
                "(Woo disables one after about 5 failed deliveries): find why deliveries "
                "failed, then set it Active again"
            )
        return Observation(
            answered=True,
            credentials=Credentials.VALID,
            latency_ms=answer.latency_ms,
            webhook=webhook,
            problem=problem,
            facts={"topics": ",".join(sorted(str(h.get("topic", "")) for h in found))},
        )


class BigCommerceProbe(_Probe):
    platform = "bigcommerce"

    def _probe(self, store: Store, secret: Mapping[str, Any]) -> Observation:
        credentials = api_credentials(secret)  # the access token does not rotate
        base = self._base or "https://api.bigcommerce.com"
        answer = self._get(
            f"{base}/stores/{quote(credentials.store_hash, safe='')}/v3/hooks",
            {"X-Auth-Token": credentials.access_token},
        )
        refused = self._refusal(
            answer, f"fix access_token/store_hash in secret {store.secret_name}"
        )
        if refused is not None:
            return refused
        try:
            hooks = _json(answer).get("data")
            if not isinstance(hooks, list):
                raise ValueError("data is not a list")
        except (ValueError, AttributeError) as exc:
            return self._unreadable(answer, str(exc))
        found = [
            h
            for h in hooks
            if isinstance(h, dict) and ours(h.get("destination"), "bigcommerce", store.store_id)
        ]
        webhook = _subscription(found, lambda h: h.get("is_active") is True)
        problem = ""
        if webhook is Webhook.MISSING:
            problem = (
                f"BigCommerce lists no hook to /webhooks/bigcommerce/{store.store_id}: create "
                "them (POST /stores/{store_hash}/v3/hooks, docs/platforms.md)"
            )
        elif webhook is Webhook.INACTIVE:
            problem = (
                f"BigCommerce deactivated the hooks to /webhooks/bigcommerce/{store.store_id} "
                "(after 48 h of failed retries): fix the cause, then set is_active true"
            )
        return Observation(
            answered=True,
            credentials=Credentials.VALID,
            latency_ms=answer.latency_ms,
            rate_limit=bigcommerce_rate_limit(answer.headers),
            webhook=webhook,
            problem=problem,
            facts={"scopes": ",".join(sorted(str(h.get("scope", "")) for h in found))},
        )


class TikTokProbe(_Probe):
    """Get Authorized Shops (202309): the token is valid and still covers the store's shop."""

    platform = "tiktok"

    def _secret(self, store: Store) -> Mapping[str, Any]:
        return effective_secret(self._secrets.get_secret(store.secret_name), self._now())

    def _probe(self, store: Store, secret: Mapping[str, Any]) -> Observation:
        credentials = tiktok_api.tiktok_api_credentials(secret)
        query = {"app_key": credentials.app_key, "timestamp": str(int(self._now().timestamp()))}
        query["sign"] = tiktok_api_sign(credentials.app_secret, TIKTOK_SHOPS_PATH, query)
        base = self._base or "https://open-api.tiktokglobalshop.com"
        answer = self._get(
            f"{base}{TIKTOK_SHOPS_PATH}?{urlencode(query)}",
            {tiktok_api.ACCESS_TOKEN_HEADER: credentials.access_token},
        )
        fix = f"check {tiktok_api.SECRET_FIELDS} in secret {store.secret_name}"
        refused = self._refusal(answer, fix)
        if refused is not None:
            return refused
        try:
            payload = _json(answer)
            refusal = tiktok_api.tiktok_refusal(payload)
            if refusal is not None:
                return Observation.refused(f"TikTok refused ({refusal}): {fix}", answer.latency_ms)
            shops = (payload.get("data") or {}).get("shops") or []
            ciphers = {str(s.get("cipher")) for s in shops if isinstance(s, dict)}
        except (ValueError, AttributeError, OrderHubError) as exc:
            return self._unreadable(answer, getattr(exc, "message", str(exc)))
        problem = ""
        if credentials.shop_cipher not in ciphers:
            problem = (
                f"the access token is valid but not authorized for shop_cipher "
                f"{credentials.shop_cipher} (the seller may have revoked the app for this shop): "
                "re-authorize, or fix shop_cipher"
            )
        return Observation(
            answered=True,
            credentials=Credentials.VALID,
            latency_ms=answer.latency_ms,
            webhook=Webhook.UNKNOWN,
            problem=problem,
            facts={"authorized_shops": str(len(ciphers))},
        )


class DouyinProbe(_Probe):
    """order.searchList for one row of the last five minutes: token, signature and the app's
    order permission, in one cheap call."""

    platform = "douyin"

    def _secret(self, store: Store) -> Mapping[str, Any]:
        return effective_secret(self._secrets.get_secret(store.secret_name), self._now())

    def _probe(self, store: Store, secret: Mapping[str, Any]) -> Observation:
        credentials = douyin_api.douyin_api_credentials(secret)
        now = self._now()
        stamp = int(now.timestamp())
        body = param_json(
            {"page": 0, "size": 1, "update_time_start": stamp - 300, "update_time_end": stamp}
        )
        timestamp = douyin_api.beijing_timestamp(now)
        query = {
            "app_key": credentials.app_key,
            "method": DOUYIN_SEARCH_METHOD,
            "access_token": credentials.access_token,
            "timestamp": timestamp,
            "v": API_VERSION,
            "sign_method": douyin_api.SIGN_METHOD,
        }
        query["sign"] = douyin_api_sign(
            credentials.app_key,
            credentials.app_secret,
            DOUYIN_SEARCH_METHOD,
            body,
            timestamp,
            API_VERSION,
            douyin_api.SIGN_METHOD,
        )
        base = self._base or "https://openapi-fxg.jinritemai.com"
        request = urllib.request.Request(
            f"{base}{DOUYIN_SEARCH_PATH}?{urlencode(query)}",
            data=body.encode("utf-8"),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        answer = _exchange(self._open, request, self._timeout)
        fix = f"check {douyin_api.SECRET_FIELDS} in secret {store.secret_name}"
        refused = self._refusal(answer, fix)
        if refused is not None:
            return refused
        try:
            refusal = douyin_api.douyin_refusal(_json(answer))
        except (ValueError, OrderHubError) as exc:
            return self._unreadable(answer, getattr(exc, "message", str(exc)))
        if refusal is not None:
            return Observation.refused(f"Douyin refused ({refusal}): {fix}", answer.latency_ms)
        return Observation(
            answered=True,
            credentials=Credentials.VALID,
            latency_ms=answer.latency_ms,
            webhook=Webhook.UNKNOWN,
        )


class RouterProbe:
    """A pull platform's router (Taobao, Pinduoduo, JD): one signed call through the pollers'
    transport, its `error_response` read by the platform's own module."""

    def __init__(
        self,
        platform: str,
        url: str,
        secrets: SecretSource,
        transport: RouterTransport,
        request: Callable[[PullCredentials, datetime, Store], Mapping[str, str]],
        read: Callable[[Any], Any],
        method: str,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.platform = platform
        self._url = url
        self._secrets = secrets
        self._transport = transport
        self._request = request
        self._read = read
        self._method = method
        self._now = now

    def probe(self, store: Store) -> Observation:
        started = time.monotonic()
        facts = {"api": self._method}
        try:
            # as the pollers read it (chalicelib/api/pollers.py)
            secret = self._secrets.get_secret(store.secret_name)
            credentials = pull_credentials(secret, self.platform)
        except PlatformCredentialsRejected as exc:
            return Observation.refused(exc.message)
        except Exception as exc:
            return Observation.unreachable(
                f"the store's secret {store.secret_name} cannot be read: {type(exc).__name__}"
            )
        try:
            answer = self._transport.post(
                self._url, self._request(credentials, self._now(), store), self.platform
            )
            latency = _elapsed_ms(started)
            self._read(answer.payload)
        except PlatformCredentialsRejected as exc:
            return Observation.refused(exc.message, _elapsed_ms(started))
        except PlatformUnavailable as exc:
            return Observation.unreachable(exc.message, _elapsed_ms(started))
        except (PlatformRequestRejected, OrderHubError) as exc:
            return Observation(
                answered=True,
                latency_ms=_elapsed_ms(started),
                webhook=Webhook.NOT_APPLICABLE,
                problem=f"{self.platform} refused the probe's request: {exc.message}",
                facts=facts,
            )
        return Observation(
            answered=True,
            credentials=Credentials.VALID,
            latency_ms=latency,
            webhook=Webhook.NOT_APPLICABLE,
            facts=facts,
        )


def _recent_second(now: datetime) -> Window:
    """A one-second window a minute ago: an authenticated query that lists (almost) nothing."""
    end = now.replace(microsecond=0) - timedelta(minutes=1)
    return Window(end - timedelta(seconds=1), end)


def taobao_request(credentials: PullCredentials, now: datetime, store: Store) -> dict[str, str]:
    return taobao.top_request(TAOBAO_SELLER_METHOD, {"fields": "nick"}, credentials, now)


def taobao_read(payload: Any) -> Any:
    return taobao.top_answer(payload, "user_seller_get_response")


def pinduoduo_request(credentials: PullCredentials, now: datetime, store: Store) -> dict[str, str]:
    return pinduoduo.increment_request(_recent_second(now), 1, credentials, now)


def jd_request(credentials: PullCredentials, now: datetime, store: Store) -> dict[str, str]:
    return jd.search_request(_recent_second(now), 1, credentials, now, store.timezone)


class QueueAttributes(Protocol):
    def get_queue_url(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_queue_attributes(self, **kwargs: Any) -> Mapping[str, Any]: ...


def amazon_may_send(policy_text: str | None) -> bool:
    """Whether a queue policy still allows Amazon's notifications account to SendMessage."""
    try:
        policy = json.loads(policy_text or "{}")
    except ValueError:
        return False
    statements = policy.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = json.dumps(statement.get("Principal", ""))
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if AMAZON_ACCOUNT in principal and any(
            a in ("sqs:SendMessage", "sqs:*", "*") for a in actions
        ):
            return True
    return False


class AmazonQueueProbe:
    """Amazon writes into our queue: it must exist, answer, and still let Amazon send; its
    DLQ should be empty. SP-API itself is not called (no SP-API credentials in OrderHub)."""

    platform = "amazon"

    def __init__(self, sqs: QueueAttributes, queue: str = AMAZON_QUEUE, dlq: str = AMAZON_DLQ):
        self._sqs = sqs
        self._queue = queue
        self._dlq = dlq

    def probe(self, store: Store) -> Observation:
        started = time.monotonic()
        try:
            url = self._sqs.get_queue_url(QueueName=self._queue)["QueueUrl"]
            attrs = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            dlq_url = self._sqs.get_queue_url(QueueName=self._dlq)["QueueUrl"]
            parked = int(
                self._sqs.get_queue_attributes(
                    QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"].get("ApproximateNumberOfMessages", 0)
            )
        except Exception as exc:  # nothing from botocore leaks: the queue is what matters
            return Observation.unreachable(
                f"queue {self._queue} or its DLQ cannot be read: {type(exc).__name__}: {exc}",
                _elapsed_ms(started),
            )
        latency = _elapsed_ms(started)
        facts = {
            "queue_visible": str(attrs.get("ApproximateNumberOfMessages", "?")),
            "queue_in_flight": str(attrs.get("ApproximateNumberOfMessagesNotVisible", "?")),
            "dlq_depth": str(parked),
        }
        if not amazon_may_send(attrs.get("Policy")):
            return Observation(
                answered=True,
                latency_ms=latency,
                webhook=Webhook.MISSING,
                problem=(
                    f"the policy of {self._queue} no longer lets Amazon's notifications account "
                    f"({AMAZON_ACCOUNT}) send: restore AmazonNotificationsQueuePolicy "
                    "(infra/resources.json)"
                ),
                facts=facts,
            )
        warnings = (
            (f"{parked} notification(s) parked in {self._dlq}: see the DLQ alarm",)
            if parked
            else ()
        )
        return Observation(
            answered=True,
            latency_ms=latency,
            webhook=Webhook.UNKNOWN,
            warnings=warnings,
            facts=facts,
        )


class Receipts(Protocol):
    def receipts(self, platform: str, store: str, day: str) -> list[Mapping[str, Any]]: ...


class LastWebhookProbe:
    """The own shop (`mall`) has no API to ask: report when its last webhook arrived, from the
    trail's `store_day` index (today's receipts, else yesterday's; UTC days)."""

    def __init__(self, trail: Receipts, now: Callable[[], datetime] = utc_now) -> None:
        self._trail = trail
        self._now = now

    def probe(self, store: Store) -> Observation:
        now = self._now()
        last = ""
        try:
            for day in (now.date(), now.date() - timedelta(days=1)):
                stamps = [
                    str(r.get("received_at"))
                    for r in self._trail.receipts(store.platform, store.store_id, day.isoformat())
                    if r.get("received_at")
                ]
                if stamps:
                    last = max(stamps)
                    break
        except Exception as exc:
            return Observation.no_probe(
                f"own shop: no API to call; its trail cannot be read ({type(exc).__name__})"
            )
        if not last:
            return Observation.no_probe(
                "own shop: no API to call; no webhook received today or yesterday (UTC)"
            )
        ago = int((now - datetime.fromisoformat(last)).total_seconds())
        return Observation.no_probe(
            f"own shop: no API to call; last webhook {ago} s ago",
            {"last_webhook_at": last, "seconds_since_last_webhook": str(ago)},
        )


def build_health_probes(
    secrets: SecretSource,
    transport: RouterTransport,
    sqs: QueueAttributes,
    trail: Receipts,
    *,
    shopify_api_url: str = "",
    shopify_api_version: str = DEFAULT_SHOPIFY_API_VERSION,
    woocommerce_api_url: str = "",
    bigcommerce_api_url: str = "",
    tiktok_api_url: str = "",
    douyin_api_url: str = "",
    taobao_api_url: str = taobao.DEFAULT_API_URL,
    pdd_api_url: str = pinduoduo.DEFAULT_API_URL,
    jd_api_url: str = jd.DEFAULT_API_URL,
    timeout: float = PROBE_TIMEOUT,
    now: Callable[[], datetime] = utc_now,
    stage: str = "",
) -> dict[str, HealthProbe]:
    """Every platform's probe, keyed by platform name; Amazon's reads the stage's queues."""
    return {
        "shopify": ShopifyProbe(
            secrets, shopify_api_url, shopify_api_version, timeout=timeout, now=now
        ),
        "woocommerce": WooCommerceProbe(secrets, woocommerce_api_url, timeout=timeout, now=now),
        "bigcommerce": BigCommerceProbe(secrets, bigcommerce_api_url, timeout=timeout, now=now),
        "tiktok": TikTokProbe(secrets, tiktok_api_url, timeout=timeout, now=now),
        "douyin": DouyinProbe(secrets, douyin_api_url, timeout=timeout, now=now),
        "taobao": RouterProbe(
            "taobao",
            taobao_api_url,
            secrets,
            transport,
            taobao_request,
            taobao_read,
            TAOBAO_SELLER_METHOD,
            now,
        ),
        "pinduoduo": RouterProbe(
            "pinduoduo",
            pdd_api_url,
            secrets,
            transport,
            pinduoduo_request,
            pinduoduo.pdd_answer,
            pinduoduo.INCREMENT,
            now,
        ),
        "jd": RouterProbe(
            "jd", jd_api_url, secrets, transport, jd_request, jd.jd_answer, jd.SEARCH, now
        ),
        "amazon": AmazonQueueProbe(
            sqs, resource_name(stage, AMAZON_QUEUE), resource_name(stage, AMAZON_DLQ)
        ),
        "mall": LastWebhookProbe(trail, now),
    }
