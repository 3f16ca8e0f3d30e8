"""Every role against every route, through the real app and middleware over the fake stack:
allowed never answers 401/403, denied answers 403 naming the permission and the role. Every
route is declared; an undeclared one is denied; the docs show exactly what the code enforces."""

from __future__ import annotations

import re

import pytest

from app import app
from chalicelib.api import access
from chalicelib.domain.api_keys import issue_key
from chalicelib.domain.auth import hash_api_key
from chalicelib.domain.permissions import ROLES, Permission, permissions_of
from tests.conftest import ROOT
from tests.unit.test_http_api import KEY

SAMPLE_PARAMS = {
    "platform": "mall",
    "store": "demo-shop",
    "order_id": "o-1",
    "sku": "SKU-A",
    "key_id": "key_000000000000",
    "key": "out_of_stock%23mall%23demo-shop%23o-1",
    "request_id": "rv_0000000000000000",
    "month": "2026-11",
    "provider": "kuaidi100",
    "warehouse": "wh-1",
    "buyer": "p1:" + "0" * 64,
    "name": "app.js",
}


def role_key(role: str) -> str:
    return f"key-of-{role}"


@pytest.fixture
def role_keys(deps):
    for role in ROLES:
        issued = issue_key(role, role, deps.now(), secret=role_key(role), key_id=f"k-{role}")
        deps.api_keys.save_key(issued.key)
    # a lookup naming a role the matrix does not know (written before a role was renamed)
    deps.catalog.put_api_key(
        hash_api_key("key-of-nobody"), {"key_id": "k-nobody", "owner": "x", "role": "intern"}
    )
    return deps


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PARAMS[m.group(1)], path)


def call(client, method: str, path: str, key: str | None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if method == "GET":
        return client.http.get(concrete(path), headers=headers)
    return client.http.request(method, concrete(path), headers=headers, body=b"{}")


def test_every_route_of_the_app_is_declared_exactly_once():
    served = {(m, path) for path, entries in app.routes.items() for m in entries}
    declared = set(access.ROUTES) | set(access.PUBLIC_ROUTES)
    assert not set(access.ROUTES) & set(access.PUBLIC_ROUTES)
    assert served - declared == set(), (
        "declare each route's permission in chalicelib/api/access.py (ROUTES), or make it "
        "public there (PUBLIC_ROUTES)"
    )
    assert declared - served == set(), "access.py declares routes the app does not serve"


PROTECTED = sorted(access.ROUTES)


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_role_against_route(client, role_keys, role, method, path):
    permission = access.ROUTES[(method, path)]
    response = call(client, method, path, role_key(role))
    if permission in permissions_of(role):
        # allowed: the handler ran (a 4xx for the sample's empty body or unknown ids is fine)
        assert response.status_code not in (401, 403), (role, method, path, response.body)
        assert response.status_code < 500, (role, method, path, response.body)
    else:
        assert response.status_code == 403, (role, method, path, response.body)
        body = response.json_body
        assert body["error"] == "forbidden"
        assert f"'{permission}'" in body["message"] and f"'{role}'" in body["message"]
        assert f"{method} {path}" in body["message"]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_protected_route_needs_a_key(client, deps, method, path):
    missing = call(client, method, path, None)
    wrong = call(client, method, path, "not-a-key")
    assert missing.status_code == 401 and "Authorization" in missing.json_body["message"]
    assert wrong.status_code == 401 and wrong.json_body["error"] == "unauthenticated"


@pytest.mark.parametrize(("method", "path"), sorted(access.PUBLIC_ROUTES))
def test_public_routes_need_no_key(client, deps, method, path):
    response = call(client, method, path, None)  # a webhook still checks its signature
    assert response.status_code != 403
    assert (response.json_body or {}).get("error") != "unauthenticated", response.body


def test_unknown_role_has_no_permission(client, role_keys):
    response = client.http.get(
        "/inventory/SKU-A", headers={"Authorization": "Bearer key-of-nobody"}
    )
    assert response.status_code == 403 and "'intern'" in response.json_body["message"]


def test_a_route_without_a_declared_permission_is_denied_even_to_admin(client, deps, monkeypatch):
    routes = dict(access.ROUTES)
    del routes[("GET", "/inventory/{sku}")]
    monkeypatch.setattr(access, "ROUTES", routes)
    response = client.http.get("/inventory/SKU-A", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 403
    assert "declares no permission" in response.json_body["message"]


def test_expired_and_revoked_keys_get_401_with_the_reason(client, deps):
    issued = issue_key("o", "ops", deps.now(), 1, secret="short-lived", key_id="k-short")
    deps.api_keys.save_key(issued.key)
    ok = client.http.get("/ops/dlq", headers={"Authorization": "Bearer short-lived"})
    assert ok.status_code == 200
    deps.now.advance(days=1)
    expired = client.http.get("/ops/dlq", headers={"Authorization": "Bearer short-lived"})
    assert expired.status_code == 401 and "expired" in expired.json_body["message"]
    admin = {"Authorization": f"Bearer {KEY}"}
    assert client.http.post("/admin/api-keys/k/revoke", headers=admin).status_code == 200
    revoked = client.http.get("/ops/dlq", headers=admin)
    assert revoked.status_code == 401 and "disabled" in revoked.json_body["message"]


def test_least_privilege_as_the_seller_asked():
    assert Permission.READ_ORDERS in permissions_of("cs")
    assert Permission.EXPORT not in permissions_of("cs")
    assert {Permission.READ_PAYMENTS, Permission.READ_REPORTS} <= permissions_of("finance")
    assert Permission.EDIT_ADDRESS not in permissions_of("finance")
    assert {Permission.CONFIRM_SHIPMENTS, Permission.ADJUST_STOCK} <= permissions_of("warehouse")
    only_admin = {Permission.MANAGE_KEYS, Permission.READ_AUDIT}
    for role in ROLES:
        assert bool(only_admin & permissions_of(role)) == (role == "admin"), role
    assert permissions_of("admin") == frozenset(Permission)
    assert permissions_of("nobody") == frozenset()


def test_docs_show_the_matrix_the_code_enforces():
    text = (ROOT / "docs" / "access.md").read_text(encoding="utf-8")
    generated = text.split("<!-- BEGIN GENERATED: python -m chalicelib.api.access -->\n")[1]
    generated = generated.split("<!-- END GENERATED -->")[0]
    assert generated == access.render_matrix(), (
        "docs/access.md is out of date: paste `python -m chalicelib.api.access` between its "
        "GENERATED markers"
    )
