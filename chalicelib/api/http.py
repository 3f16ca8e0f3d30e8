"""HTTP concerns in one place: domain errors to statuses, JSON bodies, the access middleware."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.api import access
from chalicelib.deps import container
from chalicelib.domain import errors
from chalicelib.domain.bounds import (
    MAX_PATH_VALUE,
    MAX_QUERY_VALUE,
    check_json_depth,
    check_params,
)
from chalicelib.domain.reveal import TooManyReveals
from chalicelib.domain.scrub import scrub_free_text
from chalicelib.observability import logger

STATUS: dict[type[errors.OrderHubError], int] = {
    errors.InvalidPayload: 400,
    errors.InvalidSignature: 401,
    errors.StaleTimestamp: 401,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.UnknownPlatform: 404,
    errors.UnknownStore: 404,
    errors.NotFound: 404,
    errors.PayloadTooLarge: 413,
    errors.StockConflict: 409,
    errors.TransientFailure: 503,
    TooManyReveals: 429,
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=body,
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def read_json(raw: bytes | str | None) -> Any:
    """A request body's JSON (None when empty): nesting limited before parsing
    (domain/bounds.py), text that is not JSON or not valid UTF-8 a 400 naming the body."""
    if raw is None or not raw.strip():
        return None
    check_json_depth(raw)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.InvalidPayload(f"body is not valid JSON: {exc}") from None


def error_response(exc: errors.OrderHubError) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)
    headers = {"Retry-After": "5"} if status == 503 else None
    return json_response({"error": exc.code, "message": exc.message}, status, headers)


def api_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Every view answers errors as {"error", "message"} JSON; nothing leaks a stack trace."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except errors.OrderHubError as exc:
            reason = scrub_free_text(exc.message)  # it may quote what the caller sent
            logger().info("request refused", extra={"error": exc.code, "reason": reason})
            return error_response(exc)
        except Exception:
            logger().exception("request failed")
            return json_response(
                {
                    "error": "internal_error",
                    "message": "OrderHub could not complete the request; it is safe to retry",
                },
                500,
            )

    return wrapper


def authenticate_request(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice http middleware: every route declared public in `api/access.py` passes; every
    other needs `Bearer <api key>` (401) of a role with the route's permission (403). A route
    declaring nothing is denied (fail closed)."""
    method, path = str(getattr(event, "method", "")), str(getattr(event, "path", ""))
    try:  # every route's path and query values, before anything reads them (domain/bounds.py)
        check_params(getattr(event, "uri_params", None), "path parameter", MAX_PATH_VALUE)
        check_params(getattr(event, "query_params", None), "query parameter", MAX_QUERY_VALUE)
    except errors.InvalidPayload as exc:
        logger().info("request refused", extra={"error": exc.code, "route": f"{method} {path}"})
        return error_response(exc)
    if access.is_public(method, path):
        return get_response(event)
    allowed = access.allowed_methods(path)
    if allowed and (method.upper(), path) not in access.ROUTES:  # the view never runs
        return json_response(
            {
                "error": "method_not_allowed",
                "message": f"{method} is not allowed on {path}; allowed: {', '.join(allowed)} "
                "(see /openapi.json)",
            },
            405,
            {"Allow": ", ".join(allowed)},
        )
    deps = container()
    try:
        principal = deps.authenticator.authenticate(event.headers.get("authorization"), deps.now())
        access.authorize(principal, method, path, getattr(event, "query_params", None))
    except (errors.Unauthenticated, errors.Forbidden) as exc:
        logger().info("request refused", extra={"error": exc.code, "route": f"{method} {path}"})
        return error_response(exc)
    event.context[access.PRINCIPAL] = {
        "key_id": principal.key_id,
        "owner": principal.owner,
        "role": principal.role,
    }
    return get_response(event)


# Chalice answers some requests itself, before any view runs, as {"Code", "Message"}: turned
# into OrderHub's {"error", "message"} shape with a reason a person can act on.
_CHALICE_ERRORS: dict[str, tuple[str, Callable[[Any, Response], str]]] = {
    "MethodNotAllowedError": (
        "method_not_allowed",
        lambda event, response: (
            f"{getattr(event, 'method', '')} is not allowed on {getattr(event, 'path', '')}; "
            f"allowed: {response.headers.get('Allow', '')} (see /openapi.json)"
        ),
    ),
    "UnsupportedMediaType": (
        "unsupported_media_type",
        lambda event, response: (
            "send the body as JSON with the header Content-Type: application/json (got "
            f"{(getattr(event, 'headers', None) or {}).get('content-type', 'none')})"
        ),
    ),
    "InternalServerError": (
        "internal_error",
        lambda event, response: "OrderHub could not complete the request; it is safe to retry",
    ),
    "BadRequest": (
        "not_acceptable",
        lambda event, response: str((response.body or {}).get("Message", "bad request")),
    ),
}


def chalice_errors(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice http middleware (outermost): Chalice's own 405/415/400 answers in our shape."""
    response = get_response(event)
    body = getattr(response, "body", None)
    if isinstance(body, dict) and set(body) == {"Code", "Message"}:
        known = _CHALICE_ERRORS.get(str(body["Code"]))
        if known is not None:
            code, message = known
            headers = {k: v for k, v in response.headers.items() if k.lower() == "allow"}
            return json_response(
                {"error": code, "message": message(event, response)},
                response.status_code,
                headers,
            )
    return response


def own_base_url(request: Any, configured: str) -> str:
    """The API's own base URL for links in notices: ORDERHUB_LINK_BASE_URL when set (every
    function but the API's, infra/resources.json), else the URL this request came in on
    (API Gateway's `domainName` and stage; the API function cannot be given its own URL by
    the template without a dependency cycle)."""
    if configured:
        return configured
    context = getattr(request, "context", None) or {}
    headers = getattr(request, "headers", None) or {}
    domain = context.get("domainName") or headers.get("host") or ""
    if not domain:
        return ""
    stage = context.get("stage") or ""
    scheme = headers.get("x-forwarded-proto") or ("http" if domain.startswith("127.") else "https")
    return f"{scheme}://{domain}" + (f"/{stage}" if stage and ".execute-api." in domain else "")
