"""bench/waves.py's plan: every order created then paid, in send order, ids unique per wave."""

from __future__ import annotations

import pytest

from bench.waves import PAY_DELAY, plan_wave


def test_each_order_is_created_then_paid_and_waves_never_share_an_id() -> None:
    skus = [f"S{n}" for n in range(5)]
    first = plan_wave("R", 1, 40, 20.0, skus, "demo-shop")
    second = plan_wave("R", 2, 40, 20.0, skus, "demo-shop")

    assert [d.at for d in first] == sorted(d.at for d in first)
    by_order: dict[str, dict[str, float]] = {}
    for d in first:
        by_order.setdefault(d.order.order_id, {})[d.kind] = d.at
        assert 1 <= len(d.order.lines) <= 2
        assert {line["sku"] for line in d.order.lines} <= set(skus)
    assert len(by_order) == 40
    assert all(k["paid"] - k["created"] == pytest.approx(PAY_DELAY) for k in by_order.values())
    ids = {d.webhook_id for d in first}
    assert len(ids) == 80
    assert ids.isdisjoint(d.webhook_id for d in second)
