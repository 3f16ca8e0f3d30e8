"""Each platform's own send time, where it gives one, rides on the canonical event as
`sent_at` (what clock skew is measured on, domain/skew.py): Standard Webhooks' and
BigCommerce's `webhook-timestamp`, Shopify's `X-Shopify-Triggered-At` (both through the
webhook intake), Amazon's `EventTime`, TikTok's `timestamp`, TMC's `pub_time`; platforms
without one (WooCommerce) leave it unset."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from chalicelib.channels.amazon import parse_amazon_notification
from chalicelib.channels.base import load_json
from chalicelib.channels.taobao import trade_event
from chalicelib.channels.tiktok import parse_tiktok_webhook
from chalicelib.channels.webhook import accept_webhook
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.ports import Store
from chalicelib.domain.skew import clock_skew
from tests.conftest import fixture_json
from tests.fakes import FakeCatalog, FakeQueue, FakeSecrets
from tests.privacy_fakes import fake_vault
from tests.unit.test_channel_deliveries import STORE_ID, add_platform_stores, order_body, sign
from tests.unit.test_pull_channels import RECEIVED, TMALL, TRADE, consumed, parse_consumed, tmc

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def accepted_event(platform: str, headers: dict[str, str] | None = None) -> OrderEvent:
    deps = SimpleNamespace(catalog=FakeCatalog(), secrets=FakeSecrets({}))
    add_platform_stores(deps)
    queue = FakeQueue()
    raw = order_body(platform)
    accept_webhook(
        platform,
        STORE_ID,
        {**sign(platform, raw), **(headers or {})},
        raw,
        deps.catalog,
        deps.secrets,
        queue,
        NOW,
        vault=fake_vault(),
    )
    ((message, _),) = queue.messages
    return OrderEvent.from_dict(message["event"])


def test_shopifys_triggered_at_is_the_send_time():
    event = accepted_event("shopify")  # X-Shopify-Triggered-At: 2021-12-31T19:00:00-05:00
    assert event.sent_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    skew = clock_skew(event)  # years behind our receipt: skew (or a very late delivery)
    assert skew is not None and skew.seconds < 0 and skew.basis == "send time"


def test_a_send_time_in_the_future_is_skew_too():
    later = {"X-Shopify-Triggered-At": "2026-11-25T08:06:00Z"}
    event = accepted_event("shopify", later)
    assert event.sent_at == datetime(2026, 11, 25, 8, 6, tzinfo=UTC)
    assert clock_skew(event) is not None


def test_woocommerce_gives_no_send_time():
    assert accepted_event("woocommerce").sent_at is None


@pytest.mark.parametrize("stamp", ["2026-11-25T07:59:58Z", "2026-11-25T08:04:00Z"])
def test_a_close_send_time_is_no_skew(stamp):
    assert clock_skew(accepted_event("shopify", {"X-Shopify-Triggered-At": stamp})) is None


def test_amazons_event_time_is_the_send_time():
    document = fixture_json("amazon/OrderChangeNotification_example0.json")
    event = parse_amazon_notification(json.dumps(document), NOW).event
    assert event is not None
    assert event.sent_at == datetime(2020, 1, 11, 0, 9, 53, 109000, tzinfo=UTC)
    document.pop("EventTime")
    unstamped = parse_amazon_notification(json.dumps(document), NOW).event
    assert unstamped is not None and unstamped.sent_at is None


def test_tiktoks_timestamp_is_the_send_time():
    raw = order_body("tiktok")
    (event,) = parse_tiktok_webhook(raw, Store("tiktok", STORE_ID, "s"), NOW)
    stamp = json.loads(raw)["timestamp"]
    assert event.sent_at == datetime.fromtimestamp(stamp, tz=UTC)


def test_tmcs_pub_time_is_the_send_time_read_in_beijing():
    (message,) = parse_consumed(consumed(tmc()))
    event = trade_event(load_json(json.dumps(TRADE).encode()), message, TMALL, RECEIVED)
    assert message.pub_time == "2026-11-25 16:00:01"
    assert event.sent_at == datetime(2026, 11, 25, 8, 0, 1, tzinfo=UTC)
    assert clock_skew(event) is None  # 4 min before RECEIVED


def test_the_send_time_survives_the_queue():
    event = accepted_event("shopify")
    assert OrderEvent.from_dict(event.to_dict()) == event
