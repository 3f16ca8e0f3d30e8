"""Issue 12, item 8: the access rules checked against a table written here by hand, route by
route and role by role, from the seed's intent; not derived from `api/access.py` or
`domain/permissions.py`. Opening a route to a role (key issuance to every role, say) fails
here even when the generated docs are regenerated to match. A new route fails until a person
writes its row."""

from __future__ import annotations

import pytest

from chalicelib.api import access
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.principal import Principal

ALL = "admin ops cs finance warehouse"
ORDER = "/orders/{platform}/{store}/{order_id}"

# (method, path): the roles that may call it, as the seller described them
WRITTEN: dict[tuple[str, str], str] = {
    ("GET", ORDER): ALL,
    ("GET", f"{ORDER}/timeline"): "admin ops cs",
    ("POST", f"{ORDER}/personal-data"): "admin cs",
    ("POST", f"{ORDER}/personal-data/requests"): "admin cs",
    ("POST", "/personal-data/requests/{request_id}/approve"): "admin ops",
    ("POST", f"{ORDER}/void"): "admin ops",
    ("POST", f"{ORDER}/address"): "admin cs",
    ("GET", "/orders/export"): "admin finance",
    ("GET", "/inventory/{sku}"): "admin ops cs warehouse",
    ("POST", "/inventory/{sku}/adjustments"): "admin warehouse",
    ("POST", "/wms/outbound-confirmations"): "admin warehouse",
    ("GET", "/ops/dlq"): "admin ops",
    ("GET", "/ops/conservation"): "admin ops",
    ("GET", "/ops/channel-health"): "admin ops",
    ("GET", "/ops/kpis"): "admin ops",
    ("POST", "/admin/api-keys"): "admin",
    ("GET", "/admin/api-keys"): "admin",
    ("POST", "/admin/api-keys/{key_id}/rotate"): "admin",
    ("POST", "/admin/api-keys/{key_id}/revoke"): "admin",
    ("GET", "/admin/audit"): "admin",
    ("GET", "/anomalies"): ALL,
    ("GET", "/anomalies/{key}"): ALL,
    ("POST", "/anomalies/{key}/acknowledge"): ALL,
    ("POST", "/anomalies/{key}/resolve"): ALL,
    ("GET", "/reports"): "admin ops finance",
    # issue 18: notes on orders and on the monthly review, pick lists; issue 15: banners
    ("POST", f"{ORDER}/notes"): "admin ops cs",
    ("POST", "/wms/pick-lists"): "admin warehouse",
    ("POST", "/reports/monthly-review/{month}/notes"): "admin ops cs",
    ("GET", "/reports/monthly-review/{month}/notes"): "admin ops finance",
    ("GET", "/ops/banners"): ALL,
    # issue 13: the console's reads and stock policy
    ("GET", "/me"): ALL,
    ("GET", "/orders"): ALL,
    ("POST", "/buyers/lookup"): ALL,
    ("GET", "/buyers/{buyer}"): ALL,
    ("GET", "/inventory"): "admin ops cs warehouse",
    ("PUT", "/inventory/{sku}/warehouses/{warehouse}/policy"): "admin ops",
    ("GET", "/warehouses"): "admin ops cs warehouse",
    ("PUT", "/warehouses/{warehouse}"): "admin ops",
    ("GET", "/board"): "admin ops finance",
    # issue 14: the listing map
    ("GET", "/channels/{platform}/{store}/listings"): "admin ops cs warehouse",
    ("POST", "/channels/{platform}/{store}/listings/refresh"): "admin ops",
}
ROLES = ALL.split()


def test_every_protected_route_has_a_written_row_and_no_row_is_stale():
    assert set(access.ROUTES) - set(WRITTEN) == set(), "write the new route's row here"
    assert set(WRITTEN) - set(access.ROUTES) == set(), "a written route is no longer served"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), sorted(WRITTEN))
def test_the_code_allows_exactly_what_the_table_says(method, path, role):
    caller = Principal(f"k-{role}", role, role)
    allowed = role in WRITTEN[(method, path)].split()
    if allowed:
        access.authorize(caller, method, path)
    else:
        with pytest.raises(Forbidden):
            access.authorize(caller, method, path)


def test_an_unknown_role_may_call_nothing():
    for method, path in WRITTEN:
        with pytest.raises(Forbidden):
            access.authorize(Principal("k-x", "x", "intern"), method, path)


def test_raw_payloads_on_the_timeline_need_decrypt_too():
    path = f"{ORDER}/timeline"
    access.authorize(Principal("k", "o", "cs"), "GET", path, {"include": "raw"})
    with pytest.raises(Forbidden):
        access.authorize(Principal("k", "o", "ops"), "GET", path, {"include": "raw"})
