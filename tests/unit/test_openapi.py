"""The API description stays true: the app's routes and the document name the same
(method, path) pairs, permissions are api/access.py's, the document is valid OpenAPI 3.1,
every example fits its schema, and real answers of the fake stack fit theirs too."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app import app
from chalicelib.api import access
from chalicelib.api.openapi import OPERATIONS, openapi_document
from chalicelib.api.openapi_orders import ORDER_OPERATIONS
from chalicelib.domain.permissions import roles_with
from tests.unit.test_order_timeline import book_and_ship

DOC = openapi_document()
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

HOW_TO_DOCUMENT = """\
{method} {path} is served (by {view}) but not in the API description.
Add its entry to OPERATIONS in chalicelib/api/openapi.py, beside the others:

    ("{method}", "{path}"): Operation(
        "<one line: what it does>",
        "<tag: orders | inventory | operations | access | anomalies | reports | intake>",
        # success: schema e.g. ref("Order") or obj({{...}}); an example that fits it
        {{200: Reply("<what a success answers>", <schema>, <example>)}},
        # its own errors (401, 403 and 500 are added for you)
        {{400: "<when it answers 400>", 404: "<when 404>"}},
        query={{"<name>": (<schema>, "<doc>")}},  # if it reads query parameters
        body=<request schema>, body_example=<example>,  # if it takes a body
    ),

Who may call it comes from access.py (ROUTES / PUBLIC_ROUTES): declare it there, not here.
"""


def served() -> dict[tuple[str, str], str]:
    return {
        (method, path): f"{route.view_function.__module__}.{route.view_name}"
        for path, entries in app.routes.items()
        for method, route in entries.items()
    }


def documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in DOC["paths"].items()
        for method in item
        if method in METHODS
    }


def test_every_served_route_is_documented():
    missing = sorted(set(served()) - documented())
    assert not missing, "\n".join(
        HOW_TO_DOCUMENT.format(method=m, path=p, view=served()[(m, p)]) for m, p in missing
    )


def test_every_documented_route_is_served():
    extra = sorted(documented() - set(served()))
    assert not extra, (
        f"documented but not served: {extra}; remove them from OPERATIONS in "
        "chalicelib/api/openapi.py (or register the blueprint that serves them in app.py)"
    )


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in DOC["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


@pytest.mark.parametrize(("method", "path", "op"), operations(), ids=lambda x: str(x)[:60])
def test_permissions_and_security_are_access_pys(method, path, op):
    key = (method, path)
    if key in access.ROUTES:
        permission = access.ROUTES[key]
        assert op["x-permission"] == permission, (
            f"{method} {path}: the document says {op['x-permission']}, access.py {permission}"
        )
        assert op["x-roles"] == roles_with(permission)
        assert op["security"] == [{"apiKey": []}]
        assert {"401", "403"} <= set(op["responses"])
    else:
        assert key in access.PUBLIC_ROUTES, f"{method} {path} is neither protected nor public"
        assert "x-permission" not in op and {"apiKey": []} not in op["security"]
    assert "500" in op["responses"]


def test_query_permissions_are_documented():
    for (method, path), (name, value, permission) in access.QUERY_PERMISSIONS.items():
        op = DOC["paths"][path][method.lower()]
        assert op["x-query-permissions"] == {f"{name}={value}": permission}


def test_the_document_is_valid_openapi_3_1():
    assert DOC["openapi"] == "3.1.0"
    validate(DOC)  # raises, naming the problem


def schema_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for a schema that may `$ref` the document's components."""
    return Draft202012Validator(
        {**schema, "components": DOC["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def examples() -> list[tuple[str, dict[str, Any], Any]]:
    found = []
    for method, path, op in operations():
        for status, response in op["responses"].items():
            for media, content in (response.get("content") or {}).items():
                if "example" in content:
                    found.append(
                        (f"{method} {path} {status} {media}", content["schema"], content["example"])
                    )
        body = op.get("requestBody")
        for media, content in ((body or {}).get("content") or {}).items():
            if "example" in content:
                found.append(
                    (f"{method} {path} request {media}", content["schema"], content["example"])
                )
    return found


@pytest.mark.parametrize(("where", "schema", "example"), examples(), ids=lambda x: str(x)[:70])
def test_every_example_fits_its_schema(where, schema, example):
    errors = sorted(schema_validator(schema).iter_errors(example), key=str)
    assert not errors, f"{where}: " + "; ".join(e.message for e in errors)


def test_every_error_answer_is_the_error_shape():
    for method, path, op in operations():
        for status, response in op["responses"].items():
            if int(status) >= 400 and (method, path, status) != ("GET", "/health", "503"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_the_document_is_served_without_a_key(client, deps):
    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    assert json.loads(response.body) == DOC


def concrete(path: str) -> str:
    values = {"platform": "mall", "store": "demo-shop", "order_id": "o-1", "sku": "SKU-A"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


READS = [
    "/orders/{platform}/{store}/{order_id}",
    "/orders/{platform}/{store}/{order_id}/timeline",
    "/inventory/{sku}",
    "/admin/api-keys",
    "/admin/audit",
    "/ops/dlq",
    "/health",
]


@pytest.mark.parametrize("path", READS)
def test_real_answers_fit_the_documented_schema(client, deps, path):
    book_and_ship(client, deps)
    response = client.http.get(concrete(path), headers={"Authorization": "Bearer test-admin-key"})
    assert response.status_code == 200, response.body
    schema = DOC["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    errors = list(schema_validator(schema).iter_errors(json.loads(response.body)))
    assert not errors, "; ".join(e.message for e in errors)


def test_every_operation_is_listed_once():
    assert len(OPERATIONS) + len(ORDER_OPERATIONS) == len(documented())
