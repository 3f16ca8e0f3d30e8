"""Roles and what each may do: the permission matrix, in one place. Pure.

Every API route names the one permission it needs (`chalicelib/api/access.py`); the http
middleware checks the caller's role against this matrix. docs/access.md shows the matrix and
is checked against this module by a test, so the two cannot drift.

Least privilege: customer service reads orders (and, with a stated reason, decrypts a buyer's
contact) but cannot export; finance reads payments and reports but cannot change an address;
the warehouse confirms shipments and adjusts stock; ops runs the pipeline (DLQ, conservation)
and voids orders; only admin manages keys and reads the audit log. Every role reads anomalies
and acknowledges and resolves those of the rules it owns (admin: all). Some permissions have no
endpoint yet (export, void, payments, address): they are named now
so the endpoints that come later only declare them.
"""

from __future__ import annotations

from enum import StrEnum

from chalicelib.domain.errors import Forbidden
from chalicelib.domain.principal import Principal


class Permission(StrEnum):
    READ_ORDERS = "read_orders"
    READ_INVENTORY = "read_inventory"
    EXPORT = "export"
    ADJUST_STOCK = "adjust_stock"
    CONFIRM_SHIPMENTS = "confirm_shipments"
    VOID_ORDERS = "void_orders"
    READ_PAYMENTS = "read_payments"
    EDIT_ADDRESS = "edit_address"
    READ_REPORTS = "read_reports"
    READ_OPS = "read_ops"
    REPLAY_DLQ = "replay_dlq"
    MANAGE_KEYS = "manage_keys"
    READ_AUDIT = "read_audit"
    DECRYPT = "decrypt"
    READ_TIMELINE = "read_timeline"
    READ_ANOMALIES = "read_anomalies"
    HANDLE_ANOMALIES = "handle_anomalies"
    APPROVE_DECRYPT = "approve_decrypt"
    WRITE_NOTES = "write_notes"
    SET_STOCK_POLICY = "set_stock_policy"
    READ_SELF = "read_self"


DESCRIPTIONS: dict[Permission, str] = {
    Permission.READ_ORDERS: "read one order (buyer contact masked)",
    Permission.READ_INVENTORY: "read stock levels",
    Permission.EXPORT: "bulk export of order data",
    Permission.ADJUST_STOCK: "stock receipts, returns and counts",
    Permission.CONFIRM_SHIPMENTS: "WMS outbound confirmations",
    Permission.VOID_ORDERS: "void (cancel) an order",
    Permission.READ_PAYMENTS: "payment and amount details",
    Permission.EDIT_ADDRESS: "change a buyer's address",
    Permission.READ_REPORTS: "reconciliation and finance reports",
    Permission.READ_OPS: "pipeline state: DLQ depth, conservation",
    Permission.REPLAY_DLQ: "put parked events back on the queue",
    Permission.MANAGE_KEYS: "issue, list, rotate and revoke API keys",
    Permission.READ_AUDIT: "query the audit log",
    Permission.DECRYPT: "see a buyer's phone/ID in clear (reason required, audited)",
    Permission.READ_TIMELINE: "the one-click order timeline",
    Permission.READ_ANOMALIES: "list and read anomalies",
    Permission.HANDLE_ANOMALIES: (
        "acknowledge and resolve anomalies of the rules the role owns (admin: every rule)"
    ),
    Permission.APPROVE_DECRYPT: (
        "approve another person's request to see a buyer's data in clear (two-person rule)"
    ),
    Permission.WRITE_NOTES: (
        "add notes to an order, and root causes and actions to the monthly review"
    ),
    Permission.SET_STOCK_POLICY: (
        "set safety stock, channel holdback, warehouse region and priority (audited)"
    ),
    Permission.READ_SELF: "who the key belongs to and what its role may do (the console)",
}
# every role reads anomalies and handles those of the rules it owns; which rules a role owns
# is data (domain/anomaly_rules.py), so that check is the anomaly engine's (domain/anomalies.py)
# (and every role may ask who its key is: the console shows only the controls a role may use)
ANOMALIES = frozenset(
    {Permission.READ_ANOMALIES, Permission.HANDLE_ANOMALIES, Permission.READ_SELF}
)

P = Permission
ROLES: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "ops": frozenset(
        {
            P.READ_ORDERS,
            P.READ_INVENTORY,
            P.VOID_ORDERS,
            P.READ_REPORTS,
            P.READ_OPS,
            P.REPLAY_DLQ,
            P.READ_TIMELINE,
            P.APPROVE_DECRYPT,  # the shift lead on duty approves cs's reveals
            P.WRITE_NOTES,
            P.SET_STOCK_POLICY,
            *ANOMALIES,
        }
    ),
    "cs": frozenset(
        {
            P.READ_ORDERS,
            P.READ_INVENTORY,
            P.EDIT_ADDRESS,
            P.DECRYPT,
            P.READ_TIMELINE,
            P.WRITE_NOTES,
            *ANOMALIES,
        }
    ),
    "finance": frozenset({P.READ_ORDERS, P.READ_PAYMENTS, P.READ_REPORTS, P.EXPORT, *ANOMALIES}),
    "warehouse": frozenset(
        {P.READ_ORDERS, P.READ_INVENTORY, P.ADJUST_STOCK, P.CONFIRM_SHIPMENTS, *ANOMALIES}
    ),
}


def permissions_of(role: str) -> frozenset[Permission]:
    """The role's permissions; an unknown role has none (fail closed)."""
    return ROLES.get(role, frozenset())


def roles_with(permission: Permission) -> list[str]:
    return [role for role, granted in ROLES.items() if permission in granted]


def require(principal: Principal, permission: Permission, what: str) -> None:
    """Raise Forbidden (naming the permission, the caller's role and who has it) unless the
    principal's role grants `permission`. `what` names the action, e.g. `GET /ops/dlq`."""
    if permission in permissions_of(principal.role):
        return
    holders = ", ".join(roles_with(permission))
    raise Forbidden(
        f"{what} needs the '{permission}' permission, which role '{principal.role}' does not "
        f"have; use a key of a role that has it ({holders}) or ask an admin"
    )


def validate_role(role: object) -> str:
    """The role name if it is one of ROLES; ValueError listing them otherwise."""
    if not isinstance(role, str) or role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    return role
