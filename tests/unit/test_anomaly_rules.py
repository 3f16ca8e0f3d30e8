"""The rules table is data every anomaly the code opens is found in, at the same priority;
the pure evaluators' edges (address checks, awaiting-shipment clocks)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import anomaly_rules as rules
from chalicelib.domain.anomaly_rules import (
    OWNER_ROLES,
    RULES,
    AnomalyRule,
    Evaluator,
    Sla,
    Waiting,
    address_findings,
    awaiting_shipment,
    rule_for,
    suspicious_address,
)
from chalicelib.domain.booking import BookingContext, plan_event
from chalicelib.domain.model import (
    Booking,
    Buyer,
    Hold,
    Order,
    PlatformStatus,
    Priority,
    StockLevel,
)
from chalicelib.domain.permissions import ROLES
from chalicelib.domain.ports import StoreRules
from tests.builders import event
from tests.conftest import ROOT

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ISSUE_RULES = {
    "paid_not_picked": "P0",
    "logistics_stalled": "P1",
    "suspicious_address": "P1",
    "after_sales_unanswered": "P1",
    "event_pending": "P0",
    "out_of_stock": "P0",
    "unknown_sku": "P1",
    "clock_skew": "P2",
    "dlq_not_empty": "P0",
    "inventory_drift": "P0",
    "channel_health": "P1",
}


def test_the_issue_lists_every_rule_at_its_priority():
    assert {name: RULES[name].priority.value for name in ISSUE_RULES} == ISSUE_RULES


def test_every_rule_is_complete_data():
    for rule in RULES.values():
        assert rule.owner in OWNER_ROLES and rule.owner in ROLES
        assert rule.sla.acknowledge <= rule.sla.resolve
        assert rule.condition and rule.signal
        assert (rule.trigger_after is not None) == (
            rule.evaluator is Evaluator.SCAN and rule.name != rules.DLQ_NOT_EMPTY
        )


def opened_in_code() -> dict[str, set[str]]:
    """Every `Anomaly("name", ..., Priority.Px, ...)` the code writes, and the names passed
    through variables (booking's holds, skew's RULE)."""
    found: dict[str, set[str]] = {}
    pattern = re.compile(r'Anomaly\(\s*"(\w+)",[^)]*?Priority\.(P\d)', re.S)
    for source in (ROOT / "chalicelib").rglob("*.py"):
        for name, priority in pattern.findall(source.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(priority)
    for name in ("unknown_sku", "order_details_missing"):  # booking._hold_for_attention: P1
        found.setdefault(name, set()).add("P1")
    found.setdefault("clock_skew", set()).add("P2")  # skew.RULE
    return found


def test_every_anomaly_the_code_opens_has_a_rule_at_the_same_priority():
    found = opened_in_code()
    assert {"out_of_stock", "inventory_drift", "event_pending"} <= set(found)
    for name, priorities in found.items():
        assert name in RULES, f"add a rule for '{name}' to chalicelib/domain/anomaly_rules.py"
        assert priorities == {RULES[name].priority.value}, name


def test_an_unknown_name_still_gets_an_owner_and_its_prioritys_sla():
    rule = rule_for("brand_new_check", "P0")
    assert rule.owner == "ops" and rule.sla == RULES["out_of_stock"].sla


def test_roles_outside_the_matrix_are_refused():
    with pytest.raises(ValueError, match="roles must be among"):
        AnomalyRule(
            "x", Priority.P1, "intern", Sla(timedelta(1), timedelta(2)), "c", Evaluator.SCAN, "s"
        )
    with pytest.raises(ValueError, match="acknowledge <= resolve"):
        Sla(timedelta(hours=2), timedelta(hours=1))


def test_escalation_goes_along_the_chain_and_stays_at_its_end():
    rule = replace(RULES["out_of_stock"], escalate_to=("ops", "admin"))
    assert [rule.escalation_audience(n) for n in (1, 2, 3)] == ["ops", "admin", "admin"]


# ---- awaiting shipment: the two clocks --------------------------------------------------------


def order(status: str, holds: tuple[Hold, ...], paid_at: datetime | None = NOW) -> Order:
    return Order(
        "mall",
        "s1",
        "o-1",
        PlatformStatus(status),
        Booking.LOCKED,
        NOW + timedelta(hours=1),
        "raw",
        "CNY",
        (),
        None,
        holds,
        paid_at=paid_at,
    )


def test_awaiting_shipment_clocks():
    locked = (Hold("A", "w1", locked=2),)
    assert awaiting_shipment(order("paid", locked)) == ("paid", NOW)
    assert awaiting_shipment(order("paid", locked, None)) == ("paid", NOW + timedelta(hours=1))
    assert awaiting_shipment(order("shipped", locked)) == ("shipped", NOW + timedelta(hours=1))
    partly = (Hold("A", "w1", locked=1, shipped=1),)
    assert awaiting_shipment(order("paid", partly)) is None  # picking has started
    assert awaiting_shipment(order("shipped", partly)) == ("shipped", NOW + timedelta(hours=1))
    assert awaiting_shipment(order("unpaid", (Hold("A", "w1", reserved=1),))) is None
    assert awaiting_shipment(order("shipped", (Hold("A", "w1", shipped=2),))) is None


def test_the_evaluators_count_from_the_signals_own_time():
    w = [Waiting("a", NOW - timedelta(hours=6)), Waiting("b", NOW - timedelta(hours=5))]
    [found] = rules.paid_not_picked(w, NOW)
    assert (found.subject, found.priority) == ("a", Priority.P0)
    assert "6.0 h since" in found.detail
    assert rules.dlq_not_empty("q", {"visible": 0, "in_flight": 0}) is None
    assert rules.dlq_not_empty("q", {"visible": 0, "in_flight": 2}).detail.startswith("2 message")


# ---- suspicious address ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "po", "blocklist", "expected"),
    [
        ("1 Main St", False, (), []),
        ("上海市 漕溪北路1号", False, (), []),
        ("", False, (), ["empty"]),
        ("   ", False, (), ["empty"]),
        ("上海市", False, (), ["shorter than 6 characters"]),
        ("PO Box 42, Springfield", False, (), []),
        ("P.O. Box 42, Springfield", True, (), ["a PO box, which the store does not ship to"]),
        ("北京市 邮政信箱 100-1号", True, (), ["a PO box, which the store does not ship to"]),
        ("Room 5, Reship Hub 88", False, ("reship hub",), ["matches store blocklist entry #1"]),
        ("Test Address 1, Anytown", False, (), ["matches default blocklist entry #1"]),
    ],
)
def test_address_checks(address, po, blocklist, expected):
    assert address_findings(address, po, blocklist) == expected


def test_booking_flags_a_new_address_once_and_never_copies_it():
    ctx = BookingContext(NOW, rules=StoreRules(forbid_po_box=True))
    ev = replace(event(status="paid"), buyer=Buyer("Li", "1", "PO Box 9, Springfield"))
    stock = {("SKU-A", "w1"): StockLevel.new("SKU-A", "w1", 5)}
    first = plan_event(ev, None, stock, ctx)
    [flag] = [a for a in first.anomalies if a.rule == "suspicious_address"]
    assert flag.subject == "mall#s1#o-1" and "PO Box" not in flag.detail
    later = replace(ev, event_key="mall#s1#again", updated_at=ev.updated_at + timedelta(1))
    second = plan_event(later, first.order, stock, ctx)
    assert not [a for a in second.anomalies if a.rule == "suspicious_address"]
    moved = replace(later, event_key="k3", buyer=Buyer("Li", "1", "PO Box 10, Springfield"))
    third = plan_event(moved, first.order, stock, ctx)
    assert [a.rule for a in third.anomalies] == ["suspicious_address"]


def test_no_buyer_data_is_not_judged():
    assert suspicious_address(None, order("paid", ())) is None


def test_store_rules_take_the_blocklist_as_stored():
    assert StoreRules(address_blocklist=["a", "b"]).address_blocklist == ("a", "b")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="list of strings"):
        StoreRules(address_blocklist="abc")  # type: ignore[arg-type]


def test_the_anomalies_page_shows_the_rules_the_code_has():
    page = (ROOT / "docs" / "anomalies.md").read_text(encoding="utf-8")
    assert rules.render_rules_table() in page, (
        "docs/anomalies.md's anomaly rules table is out of date: paste "
        "`chalicelib.domain.anomaly_rules.render_rules_table()` in"
    )
