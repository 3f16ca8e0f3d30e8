"""The API description: an OpenAPI 3.1 document of every route, served at GET /openapi.json.

Built at run time from `OPERATIONS` (one entry per route: what it takes and answers) and
`api/access.py` (who may call it): each protected operation gets the bearer-key security
requirement, `x-permission` (the one permission from `ROUTES`), `x-roles` (who holds it) and
the 401/403 answers; public ones their `PUBLIC_ROUTES` note. Every operation may answer 500.
Every error body is `{"error", "message"}` (`api/http.py`).

The parts: api/openapi_schema.py (schema helpers, shared schemas, examples, the `Operation`
record), api/openapi_operations.py (the core routes' entries), api/openapi_console.py,
api/openapi_activity.py and api/openapi_orders.py (the console's, the activity routes', the
people's actions on orders), api/openapi_build.py (one operation object); this module merges
them and serves the document.

Kept true by tests/unit/test_openapi.py: the app's routes and this document name the same
(method, path) pairs, permissions match ROUTES, the document is valid OpenAPI 3.1, and every
example validates against its schema. A new route: add its entry to OPERATIONS (the test says
which and how).
"""

from __future__ import annotations

import functools
from typing import Any

from chalice import Blueprint

from chalicelib.api.http import json_response
from chalicelib.api.openapi_activity import ACTIVITY_OPERATIONS
from chalicelib.api.openapi_build import (
    GATEWAY_ERRORS,
    SECURITY_SCHEMES,
    error_reply,
    operation_object,
)
from chalicelib.api.openapi_console import console_operations
from chalicelib.api.openapi_operations import CORE_OPERATIONS
from chalicelib.api.openapi_orders import order_operation_objects
from chalicelib.api.openapi_schema import SCHEMAS, Operation

bp = Blueprint(__name__)
VERSION = "1.0.0"

# every route's entry but the people's actions on orders (api/openapi_orders.py, which builds
# its own operation objects)
OPERATIONS: dict[tuple[str, str], Operation] = {
    **CORE_OPERATIONS,
    **console_operations(),
    **ACTIVITY_OPERATIONS,
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in OPERATIONS.items():
        paths.setdefault(path, {})[method.lower()] = operation_object(method, path, op)
    for (method, path), found in order_operation_objects().items():
        paths.setdefault(path, {})[method.lower()] = found
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OrderHub",
            "version": VERSION,
            "description": (
                "Order hub for many sales channels: webhooks in, bookings against stock, "
                "reads, warehouse confirmations, operations and access. Every error is "
                '`{"error": <code>, "message": <what to do>}`, Chalice\'s and API Gateway\'s '
                "own answers included: a method a path does not list is 405 "
                "(`#/components/responses/MethodNotAllowed`), an unknown path 404 "
                "(`RouteNotFound`), a JSON body sent as another type 415. Roles and "
                "permissions: docs/access.md."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": SECURITY_SCHEMES,
            "responses": {
                name: error_reply(code, text) for name, (code, text) in GATEWAY_ERRORS.items()
            },
        },
    }


@bp.route("/openapi.json", methods=["GET"])
def handle_get_openapi() -> Any:
    """Public: it describes routes and schemas, never data."""
    return json_response(openapi_document())
