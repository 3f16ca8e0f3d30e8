"""Who may call what, in one table, and the audit helper every privileged handler calls.

`ROUTES` names, for every (method, route path) the app serves, the one permission it needs;
`PUBLIC_ROUTES` are the routes that authenticate otherwise (platform signatures) or not at all.
The http middleware (`api/http.py`) enforces it: a route in neither is denied to every role
(fail closed), and a unit test checks every route of the app is declared.

`python -m chalicelib.api.access` prints docs/access.md's generated part.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from chalicelib.deps import Container, container
from chalicelib.domain.audit import AuditEntry, new_entry
from chalicelib.domain.errors import Forbidden, Unauthenticated
from chalicelib.domain.permissions import DESCRIPTIONS, ROLES, Permission, require
from chalicelib.domain.ports import Principal
from chalicelib.observability import logger, metrics

P = Permission

PUBLIC_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/webhooks/{platform}/{store}"): "platform signature",
    ("GET", "/health"): "none",
    ("GET", "/openapi.json"): "none; it describes routes and schemas, never data",
    ("POST", "/tracking/{provider}/callback"): "tracking provider signature",
    ("GET", "/console"): "none; the console's page, no data (it calls the API with a key)",
    ("GET", "/console/assets/{name}"): "none; the console's scripts and styles, no data",
}

ROUTES: dict[tuple[str, str], Permission] = {
    ("GET", "/orders/{platform}/{store}/{order_id}"): P.READ_ORDERS,
    ("POST", "/orders/{platform}/{store}/{order_id}/personal-data"): P.DECRYPT,
    ("GET", "/orders/{platform}/{store}/{order_id}/timeline"): P.READ_TIMELINE,
    ("GET", "/inventory/{sku}"): P.READ_INVENTORY,
    ("POST", "/inventory/{sku}/adjustments"): P.ADJUST_STOCK,
    ("POST", "/wms/outbound-confirmations"): P.CONFIRM_SHIPMENTS,
    ("GET", "/ops/dlq"): P.READ_OPS,
    ("GET", "/ops/conservation"): P.READ_OPS,
    ("GET", "/ops/channel-health"): P.READ_OPS,
    ("GET", "/ops/kpis"): P.READ_OPS,
    ("GET", "/ops/banners"): P.READ_ANOMALIES,  # every role: the console shows them to all
    ("POST", "/admin/api-keys"): P.MANAGE_KEYS,
    ("GET", "/admin/api-keys"): P.MANAGE_KEYS,
    ("POST", "/admin/api-keys/{key_id}/rotate"): P.MANAGE_KEYS,
    ("POST", "/admin/api-keys/{key_id}/revoke"): P.MANAGE_KEYS,
    ("GET", "/admin/audit"): P.READ_AUDIT,
    ("GET", "/anomalies"): P.READ_ANOMALIES,
    ("GET", "/anomalies/{key}"): P.READ_ANOMALIES,
    ("POST", "/anomalies/{key}/acknowledge"): P.HANDLE_ANOMALIES,  # and the rule's owner role
    ("POST", "/anomalies/{key}/resolve"): P.HANDLE_ANOMALIES,  # and the rule's owner role
    ("GET", "/reports"): P.READ_REPORTS,
    # the two-person rule (api/personal_data.py): ask with decrypt, another person approves
    ("POST", "/orders/{platform}/{store}/{order_id}/personal-data/requests"): P.DECRYPT,
    ("POST", "/personal-data/requests/{request_id}/approve"): P.APPROVE_DECRYPT,
    # people's actions on orders (api/order_actions.py), each audited
    ("POST", "/orders/{platform}/{store}/{order_id}/void"): P.VOID_ORDERS,
    ("POST", "/orders/{platform}/{store}/{order_id}/address"): P.EDIT_ADDRESS,
    ("GET", "/orders/export"): P.EXPORT,
    ("POST", "/orders/{platform}/{store}/{order_id}/notes"): P.WRITE_NOTES,
    ("POST", "/wms/pick-lists"): P.CONFIRM_SHIPMENTS,
    ("POST", "/reports/monthly-review/{month}/notes"): P.WRITE_NOTES,
    ("GET", "/reports/monthly-review/{month}/notes"): P.READ_REPORTS,
    ("GET", "/channels/{platform}/{store}/listings"): P.READ_INVENTORY,
    ("POST", "/channels/{platform}/{store}/listings/refresh"): P.READ_OPS,
    # the console's reads and stock policy (api/console_api.py)
    ("GET", "/me"): P.READ_SELF,
    ("GET", "/orders"): P.READ_ORDERS,
    ("POST", "/buyers/lookup"): P.READ_ORDERS,
    ("GET", "/buyers/{buyer}"): P.READ_ORDERS,
    ("GET", "/inventory"): P.READ_INVENTORY,
    ("PUT", "/inventory/{sku}/warehouses/{warehouse}/policy"): P.SET_STOCK_POLICY,
    ("GET", "/warehouses"): P.READ_INVENTORY,
    ("PUT", "/warehouses/{warehouse}"): P.SET_STOCK_POLICY,
    ("GET", "/board"): P.READ_REPORTS,
}

# A query parameter value that needs a permission beyond its route's, checked by the same
# middleware: (method, route) -> (parameter, value, permission). The timeline's raw payloads
# are the platform's bytes, buyer contact in clear.
QUERY_PERMISSIONS: dict[tuple[str, str], tuple[str, str, Permission]] = {
    ("GET", "/orders/{platform}/{store}/{order_id}/timeline"): ("include", "raw", P.DECRYPT),
    ("GET", "/orders"): ("include", "amounts", P.READ_PAYMENTS),
}

PRINCIPAL = "orderhub_principal"  # where the middleware leaves the caller in the request context


def is_public(method: str, path: str) -> bool:
    return (method.upper(), path) in PUBLIC_ROUTES


def allowed_methods(path: str) -> list[str]:
    """The methods declared for a route path (public or protected), for a 405's Allow."""
    return sorted({m for m, p in (*ROUTES, *PUBLIC_ROUTES) if p == path})


def authorize(
    principal: Principal, method: str, path: str, query: Mapping[str, str] | None = None
) -> Permission:
    """The permission the route needs, if the principal's role has it; Forbidden otherwise.
    A query value named in QUERY_PERMISSIONS (`include=raw`, comma lists too) needs its own."""
    what = f"{method.upper()} {path}"
    permission = ROUTES.get((method.upper(), path))
    if permission is None:
        raise Forbidden(
            f"{what} declares no permission (chalicelib/api/access.py), so it is denied to "
            "every role"
        )
    require(principal, permission, what)
    extra = QUERY_PERMISSIONS.get((method.upper(), path))
    if extra is not None and query:
        name, value, needed = extra
        if value in str(query.get(name) or "").split(","):
            require(principal, needed, f"{what}?{name}={value}")
    return permission


def principal_of(request: Any) -> Principal:
    """The authenticated caller the middleware recorded on the request."""
    found = (getattr(request, "context", None) or {}).get(PRINCIPAL)
    if not found:
        raise Unauthenticated("no authenticated caller; send 'Authorization: Bearer <api key>'")
    return Principal(str(found["key_id"]), str(found["owner"]), str(found["role"]))


def audit_entry(
    action: str,
    target: str,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    request: Any = None,
    actor: Principal | None = None,
    source_ip: str = "",
    user_agent: str = "",
    deps: Container | None = None,
) -> AuditEntry:
    """The entry for an action: from a handler pass the Chalice `request` (actor, source IP
    and user agent come from it); from a job or the CLI pass `actor` and what is known of the
    source."""
    deps = deps or container()
    if request is not None:
        actor = actor or principal_of(request)
        identity = (getattr(request, "context", None) or {}).get("identity") or {}
        source_ip = source_ip or str(identity.get("sourceIp") or "")
        user_agent = (
            user_agent
            or str((request.headers or {}).get("user-agent") or "")
            or str(identity.get("userAgent") or "")
        )
    if actor is None:
        raise ValueError("an audit entry needs the request or the actor")
    return new_entry(
        actor,
        action,
        target,
        deps.now(),
        retention_days=deps.settings.audit_retention_days,
        before=before,
        after=after,
        source_ip=source_ip,
        user_agent=user_agent,
    )


def audit(
    action: str,
    target: str,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    request: Any = None,
    actor: Principal | None = None,
    source_ip: str = "",
    user_agent: str = "",
    deps: Container | None = None,
) -> AuditEntry:
    """Append the audit entry of a privileged action that just happened (see `audit_entry`
    for the arguments). An entry the table does not take is logged in full at ERROR and
    counted (`AuditWriteFailures`): the action has happened, and failing the answer would
    only hide that. before/after must hold no secrets and no personal data in clear."""
    deps = deps or container()
    entry = audit_entry(
        action,
        target,
        before=before,
        after=after,
        request=request,
        actor=actor,
        source_ip=source_ip,
        user_agent=user_agent,
        deps=deps,
    )
    try:
        deps.audit_log.append(entry)
    except Exception:
        logger().exception("audit entry not stored", extra={"audit": entry.to_dict()})
        metrics().add_metric(name="AuditWriteFailures", unit="Count", value=1)
    return entry


# ---- docs/access.md ---------------------------------------------------------------------


def render_matrix() -> str:
    """The role x permission matrix and the route table, as docs/access.md shows them."""
    roles = list(ROLES)
    lines = [
        "| permission | " + " | ".join(roles) + " | what it allows |",
        "|---|" + "---|" * len(roles) + "---|",
    ]
    for permission in Permission:
        marks = " | ".join("✓" if permission in ROLES[r] else "—" for r in roles)
        lines.append(f"| `{permission}` | {marks} | {DESCRIPTIONS[permission]} |")
    lines += ["", "| route | needs |", "|---|---|"]
    for (method, path), how in PUBLIC_ROUTES.items():
        lines.append(f"| `{method} {path}` | public ({how}) |")
    for (method, path), permission in ROUTES.items():
        lines.append(f"| `{method} {path}` | `{permission}` |")
    for (method, path), (name, value, extra) in QUERY_PERMISSIONS.items():
        needs = f"`{ROUTES[(method, path)]}` and `{extra}`"
        lines.append(f"| `{method} {path}?{name}={value}` | {needs} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_matrix())
