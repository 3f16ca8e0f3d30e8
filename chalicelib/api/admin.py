"""Admin endpoints: API keys (issue, list, rotate, revoke) and the audit log; and the daily
key review. Permissions are declared in `api/access.py` (manage_keys, read_audit)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.access import audit, principal_of
from chalicelib.api.http import api_errors, json_response, read_json
from chalicelib.api.store_review import run_store_review
from chalicelib.deps import container
from chalicelib.domain.api_keys import (
    EXPIRY_WARNING,
    MAX_LIFETIME_DAYS,
    UNUSED_LIMIT,
    ApiKey,
    IssuedKey,
    disable_key,
    issue_key,
    overlap,
    review_keys,
    rotate_key,
)
from chalicelib.domain.audit import SYSTEM, Action, parse_audit_query
from chalicelib.domain.bounds import check_free_text
from chalicelib.domain.errors import InvalidPayload, NotFound, OrderHubError
from chalicelib.domain.model import Anomaly, Priority
from chalicelib.domain.scrub import scrub_free_text
from chalicelib.observability import logger, metrics

bp = Blueprint(__name__)

SHOWN_ONCE = "store this key now: OrderHub keeps only its hash and cannot show it again"


def _body() -> dict[str, Any]:
    found = read_json(bp.current_request.raw_body)
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise InvalidPayload("body must be a JSON object")
    return found


def _max_days(deps: Any) -> int:
    """The configured longest key life (ORDERHUB_API_KEY_MAX_DAYS, at most 90)."""
    return int(getattr(deps.settings, "api_key_max_days", MAX_LIFETIME_DAYS))


def _key(key_id: str) -> ApiKey:
    key = container().api_keys.get_key(key_id)
    if key is None:
        raise NotFound(f"no API key '{key_id}'; GET /admin/api-keys lists them")
    return key


def _shown_once(issued: IssuedKey) -> dict[str, Any]:
    return {**issued.key.view(), "key": issued.secret, "note": SHOWN_ONCE}


@bp.route("/admin/api-keys", methods=["POST"])
@api_errors
def handle_issue_api_key() -> Any:
    """{owner, role, expires_in_days?} -> 201 with the key, shown this once."""
    deps = container()
    body = _body()
    caller = principal_of(bp.current_request).key_id
    issued = issue_key(
        body.get("owner"),
        body.get("role"),
        deps.now(),
        body.get("expires_in_days"),
        caller,
        max_days=_max_days(deps),
    )
    deps.api_keys.save_key(issued.key)
    audit(
        Action.API_KEY_ISSUE,
        f"api_key/{issued.key.key_id}",
        after=issued.key.view(),
        request=bp.current_request,
    )
    return json_response(_shown_once(issued), 201)


@bp.route("/admin/api-keys", methods=["GET"])
@api_errors
def handle_list_api_keys() -> Any:
    """Every key, without secrets or hashes."""
    return json_response({"keys": [k.view() for k in container().api_keys.list_keys()]})


@bp.route("/admin/api-keys/{key_id}/rotate", methods=["POST"])
@api_errors
def handle_rotate_api_key(key_id: str) -> Any:
    """{overlap_hours? (24), expires_in_days? (90)} -> the new key, shown once; the old one
    keeps working for the overlap window."""
    deps = container()
    body = _body()
    before = _key(key_id)
    issued = rotate_key(
        before,
        deps.now(),
        overlap(body.get("overlap_hours")),
        body.get("expires_in_days"),
        max_days=_max_days(deps),
    )
    deps.api_keys.save_key(issued.key, issued.retired)
    audit(
        Action.API_KEY_ROTATE,
        f"api_key/{key_id}",
        before=before.view(),
        after=issued.key.view(),
        request=bp.current_request,
    )
    return json_response(_shown_once(issued))


@bp.route("/admin/api-keys/{key_id}/revoke", methods=["POST"])
@api_errors
def handle_revoke_api_key(key_id: str) -> Any:
    """Disable the key and every secret it has (effective once caches expire, within 60 s)."""
    deps = container()
    before = _key(key_id)
    given = _body().get("reason") or "revoked by an admin"
    reason = scrub_free_text(check_free_text(given, "reason"))
    after = disable_key(before, deps.now(), reason)
    if after is not before:
        deps.api_keys.save_key(after)
        audit(
            Action.API_KEY_REVOKE,
            f"api_key/{key_id}",
            before=before.view(),
            after=after.view(),
            request=bp.current_request,
        )
    return json_response(after.view())


@bp.route("/admin/audit", methods=["GET"])
@api_errors
def handle_query_audit() -> Any:
    """?from=&to= (ISO-8601; default the last day) &actor= &action= &limit= &next=: entries
    newest first; follow `next` until it is null (a page may hold fewer than `limit`)."""
    deps = container()
    params: dict[str, str] = dict(bp.current_request.query_params or {})
    query = parse_audit_query(params, deps.now())
    page = deps.audit_log.query(query)
    return json_response(
        {
            "from": query.start.isoformat(),
            "to": query.end.isoformat(),
            "entries": [e.to_dict() for e in page.entries],
            "next": page.next_token,
        }
    )


@bp.schedule("cron(0 1 * * ? *)")  # 09:00 Beijing, daily
def review_api_keys(event: Any) -> dict[str, Any]:
    """Warn about keys expiring within 14 days (P2 anomaly `api_key_expiring`); disable keys
    unused for 90 days (audited)."""
    deps = container()
    now = deps.now()
    review = review_keys(deps.api_keys.list_keys(), now)
    for key in review.expiring:
        detail = (
            f"key {key.key_id} ({key.owner}, {key.role}) expires {key.expires_at.isoformat()}; "
            f"rotate it: POST /admin/api-keys/{key.key_id}/rotate"
        )
        logger().warning("API key expiring", extra={"key_id": key.key_id, "detail": detail})
        deps.orders.open_anomaly(Anomaly("api_key_expiring", key.key_id, Priority.P2, detail), now)
    disabled = []
    for key in review.unused:
        reason = f"unused for {UNUSED_LIMIT.days} days"
        after = disable_key(key, now, reason)
        try:
            deps.api_keys.save_key(after)
        except OrderHubError as exc:  # changed meanwhile (rotated, revoked): next run sees it
            logger().warning(
                "API key not disabled", extra={"key_id": key.key_id, "error": exc.code}
            )
            continue
        audit(
            Action.API_KEY_DISABLE,
            f"api_key/{key.key_id}",
            before=key.view(),
            after=after.view(),
            actor=SYSTEM,
            user_agent="review_api_keys",
            deps=deps,
        )
        logger().warning("API key disabled", extra={"key_id": key.key_id, "reason": reason})
        disabled.append(key.key_id)
    metrics().add_metric(name="ApiKeysExpiringSoon", unit="Count", value=len(review.expiring))
    metrics().add_metric(name="ApiKeysDisabledUnused", unit="Count", value=len(disabled))
    return {
        "expiring": [k.key_id for k in review.expiring],
        "warning_days": EXPIRY_WARNING.days,
        "disabled": disabled,
        # the stores' side of the seed's rule: secrets rotated quarterly, unused stores off
        "stores": run_store_review(deps, now),
    }
