"""The Amazon backup poll's wiring: scheduled every 5 minutes with its own Lambda timeout, and
its windows within what Amazon allows (getOrders: 1 request a minute, burst 20; the end at
least 2 minutes behind the clock). Checked without AWS."""

from __future__ import annotations

import json
from datetime import timedelta

from chalice.app import ScheduledEventConfig

from app import app
from chalicelib.api.amazon_poll import AMAZON_WINDOWS
from chalicelib.api.pollers import RESERVE_MS
from chalicelib.channels.amazon_orders import GET_ORDERS, RATES
from tests.conftest import ROOT

CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))


def test_poll_amazon_runs_every_5_minutes_with_a_minute_to_run():
    (source,) = [
        s
        for s in app.event_sources
        if isinstance(s, ScheduledEventConfig) and s.name == "poll_amazon"
    ]
    assert source.schedule_expression.to_string() == "rate(5 minutes)"
    timeout = CONFIG["lambda_functions"]["poll_amazon"]["lambda_timeout"]
    assert timeout == 60 and timeout * 1000 > 4 * RESERVE_MS


def test_its_windows_stay_within_amazons_rules():
    rate, burst = RATES[GET_ORDERS]
    runs_per_hour = 60 // 5
    # one page per window in a normal hour: within the hourly refill, never past the burst
    assert runs_per_hour * AMAZON_WINDOWS.max_windows <= rate * 3600
    assert AMAZON_WINDOWS.max_windows <= burst
    assert AMAZON_WINDOWS.settle_lag >= timedelta(minutes=2)  # LastUpdatedBefore's rule
    assert timedelta(0) < AMAZON_WINDOWS.overlap < AMAZON_WINDOWS.max_window
