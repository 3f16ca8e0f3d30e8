"""One route's OpenAPI operation object from its `Operation` entry and what api/access.py says
about who may call it: security, `x-permission`, `x-roles`, the common errors (401/403, the
bounds' 400, 415, 500)."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.api import access
from chalicelib.api.openapi_schema import (
    PLATFORM,
    STORE,
    Operation,
    Reply,
    Schema,
    ref,
)
from chalicelib.domain.permissions import DESCRIPTIONS, roles_with

SECURITY_SCHEMES: dict[str, Schema] = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <api key>`; the role's permissions decide "
        "(docs/access.md). Missing or invalid: 401; role without the permission: 403.",
    },
    "standardWebhooks": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": "Standard Webhooks v1 (own shop, BigCommerce): HMAC-SHA256 over "
        "`webhook-id.webhook-timestamp.body`, with `webhook-id` and `webhook-timestamp`.",
    },
    "shopifyHmac": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Shopify-Hmac-Sha256",
        "description": "Shopify: base64 HMAC-SHA256 of the raw body with the app's secret.",
    },
    "wooCommerceSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-WC-Webhook-Signature",
        "description": "WooCommerce: base64 HMAC-SHA256 of the raw body with the secret.",
    },
    "tiktokSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "TikTok Shop: hex HMAC-SHA256(app secret, app key + body).",
    },
    "douyinSign": {
        "type": "apiKey",
        "in": "header",
        "name": "event-sign",
        "description": "Douyin: hex MD5(app key + body + app secret), or HMAC-SHA256 per "
        "`sign-method`; with `app-id`.",
    },
    "kuaidi100Sign": {
        "type": "apiKey",
        "in": "query",
        "name": "sign",
        "description": "快递100 push: form field `sign` = upper-case hex MD5(param + salt).",
    },
    "aftershipHmac": {
        "type": "apiKey",
        "in": "header",
        "name": "aftership-hmac-sha256",
        "description": "AfterShip: base64 HMAC-SHA256 of the raw body with the webhook secret.",
    },
}

COMMON_ERRORS = {
    401: "no key, or an unknown, expired, revoked or rotated-out key",
    403: "the key's role lacks the permission this route needs (the message names it)",
    500: "OrderHub could not complete the request; it is safe to retry",
}


BOUNDS_ERROR = (
    "a path or query value is too long or holds control characters (the message names it)"
)
UNSUPPORTED_MEDIA_TYPE = (
    "the body was sent with another Content-Type than application/json (the message says which)"
)
# answers that belong to no operation: a path with a method it does not list, and no such path
GATEWAY_ERRORS = {
    "MethodNotAllowed": (405, "the path exists, not with this method; `Allow` lists its methods"),
    "RouteNotFound": (404, "no such route (API Gateway's answer, in the same shape)"),
}

ERROR_CODES = {
    400: "invalid_payload",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    415: "unsupported_media_type",
    409: "conflict",
    413: "payload_too_large",
    429: "too_many_reveals",
    500: "internal_error",
    503: "transient_failure",
}


def error_reply(code: int, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": ref("Error"),
                "example": {"error": ERROR_CODES.get(code, "error"), "message": description},
            }
        },
    }


def _reply(reply: Reply) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": reply.schema}
    if reply.example is not None:
        content["example"] = reply.example
    return {"description": reply.description, "content": {"application/json": content}}


def _parameter(name: str, where: str, schema: Schema, doc: str, required: bool) -> Schema:
    found: Schema = {"name": name, "in": where, "required": required, "schema": schema}
    if doc:
        found["description"] = doc
    return found


PATH_PARAM = re.compile(r"\{(\w+)\}")
DEFAULT_PATH_PARAMS: dict[str, tuple[Schema, str]] = {
    "platform": (PLATFORM, "the channel (mall, shopify, taobao, ...)"),
    "store": (STORE, "the store id"),
    "order_id": ({"type": "string", "examples": ["o-1"]}, "the platform's order id"),
    "sku": ({"type": "string", "examples": ["SKU-A"]}, "OrderHub's SKU"),
}


def operation_object(method: str, path: str, op: Operation) -> dict[str, Any]:
    """One operation, with what api/access.py says about who may call it."""
    key = (method, path)
    parameters = [
        _parameter(name, "path", *(op.path_params.get(name) or DEFAULT_PATH_PARAMS[name]), True)
        for name in PATH_PARAM.findall(path)
    ]
    parameters += [_parameter(n, "query", s, d, False) for n, (s, d) in op.query.items()]
    parameters += [_parameter(n, "header", s, d, False) for n, (s, d) in op.headers.items()]
    responses: dict[str, Any] = {str(code): _reply(r) for code, r in sorted(op.replies.items())}
    errors = dict(op.errors)
    found: dict[str, Any] = {
        "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "summary": op.summary,
        "tags": [op.tag],
    }
    if op.description:
        found["description"] = op.description
    if key in access.ROUTES:
        permission = access.ROUTES[key]
        found["security"] = [{"apiKey": []}]
        found["x-permission"] = str(permission)
        found["x-roles"] = roles_with(permission)
        found["description"] = (
            found.get("description", "") + f"\n\nNeeds `{permission}` "
            f"({DESCRIPTIONS[permission]}): roles {', '.join(roles_with(permission))}."
        ).strip()
        extra = access.QUERY_PERMISSIONS.get(key)
        if extra is not None:
            found["x-query-permissions"] = {f"{extra[0]}={extra[1]}": str(extra[2])}
        errors.setdefault(401, COMMON_ERRORS[401])
        errors.setdefault(403, COMMON_ERRORS[403])
    else:
        found["security"] = [{name: []} for name in op.security or ()]
        found["x-public"] = access.PUBLIC_ROUTES.get(key, "")
    errors.setdefault(500, COMMON_ERRORS[500])
    if PATH_PARAM.findall(path) or op.query:  # the middleware's bounds (domain/bounds.py)
        errors.setdefault(400, BOUNDS_ERROR)
    if op.body is not None and list(op.body_types) == ["application/json"]:
        errors.setdefault(415, UNSUPPORTED_MEDIA_TYPE)
    for code, description in sorted(errors.items()):
        if code not in op.replies:
            responses[str(code)] = error_reply(code, description)
    if parameters:
        found["parameters"] = parameters
    if op.body is not None:
        content = {"schema": op.body}
        if op.body_example is not None:
            content["example"] = op.body_example
        found["requestBody"] = {
            "required": op.body_required,
            "content": {media: content for media in op.body_types},
        }
    found["responses"] = responses
    return found
