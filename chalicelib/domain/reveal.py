"""Two-person decrypt: a buyer's data in clear only after a second person approved. Pure.

The seed's rule "解密需二次授权" (decrypting needs a second authorization), made real:
1. a principal holding `decrypt` asks to see one order's buyer, with a reason
   (`POST /orders/{platform}/{store}/{order_id}/personal-data/requests`);
2. a *different* principal (another key and another owner) holding `approve_decrypt`
   approves it (`POST /personal-data/requests/{request_id}/approve`);
3. for `GRANT_MINUTES` after the approval, the requester (that key only) may reveal that
   order's buyer (`POST /orders/.../personal-data` with the request id), as often as needed.
Each step is audited. A request not approved within `PENDING_HOURS` lapses.

Bulk use is refused: more than `MAX_REVEALS_PER_HOUR` reveals by one key in a clock hour is
a 429 and a P1 `bulk_decrypt` anomaly for that key (a cs key reading 200 orders in 3 s is a
leak in progress, whatever the approvals say).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.bounds import check_free_text
from chalicelib.domain.errors import Conflict, Forbidden, InvalidPayload, OrderHubError
from chalicelib.domain.principal import Principal
from chalicelib.domain.scrub import scrub_free_text

GRANT_MINUTES = 30
PENDING_HOURS = 24
MAX_REVEALS_PER_HOUR = 20
MIN_REASON = 10
MAX_REASON = 500

PENDING, APPROVED = "pending", "approved"


class TooManyReveals(OrderHubError):
    """More reveals by one key in an hour than the bulk limit allows (429)."""

    code = "too_many_reveals"


@dataclass(frozen=True)
class RevealRequest:
    request_id: str
    order_key: str
    requester: Principal
    reason: str  # scrubbed of phones, ID numbers and emails
    requested_at: datetime
    status: str = PENDING
    approver: Principal | None = None
    approved_at: datetime | None = None
    version: int = 1

    @property
    def pending_until(self) -> datetime:
        return self.requested_at + timedelta(hours=PENDING_HOURS)

    @property
    def valid_until(self) -> datetime | None:
        """The end of the grant (approval + 30 minutes); None while not approved."""
        if self.approved_at is None:
            return None
        return self.approved_at + timedelta(minutes=GRANT_MINUTES)

    def view(self) -> dict[str, Any]:
        """What the API shows and the audit keeps: no personal data (the reason is scrubbed)."""
        valid = self.valid_until
        return {
            "request_id": self.request_id,
            "order_key": self.order_key,
            "status": self.status,
            "reason": self.reason,
            "requested_by": _who(self.requester),
            "requested_at": _iso(self.requested_at),
            "pending_until": _iso(self.pending_until) if self.status == PENDING else None,
            "approved_by": _who(self.approver) if self.approver else None,
            "approved_at": _iso(self.approved_at) if self.approved_at else None,
            "valid_until": _iso(valid) if valid else None,
        }

    def to_record(self) -> dict[str, Any]:
        data = {
            **self.view(),
            "requester": _principal_record(self.requester),
            "approver": _principal_record(self.approver) if self.approver else None,
            "version": self.version,
        }
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> RevealRequest:
        approver = data.get("approver")
        return cls(
            request_id=str(data["request_id"]),
            order_key=str(data["order_key"]),
            requester=_principal(data["requester"]),
            reason=str(data.get("reason", "")),
            requested_at=datetime.fromisoformat(str(data["requested_at"])),
            status=str(data.get("status", PENDING)),
            approver=_principal(approver) if approver else None,
            approved_at=(
                datetime.fromisoformat(str(data["approved_at"]))
                if data.get("approved_at")
                else None
            ),
            version=int(data.get("version", 1)),
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _who(principal: Principal) -> dict[str, str]:
    return {"key_id": principal.key_id, "owner": principal.owner, "role": principal.role}


def _principal_record(principal: Principal) -> dict[str, str]:
    return _who(principal)


def _principal(data: Mapping[str, Any]) -> Principal:
    return Principal(str(data["key_id"]), str(data["owner"]), str(data["role"]))


def parse_reason(body: Any) -> str:
    """`{"reason": "..."}`: 10 to 500 characters of text, scrubbed before it is kept."""
    reason = body.get("reason") if isinstance(body, Mapping) else None
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        raise InvalidPayload(
            "say why you need the buyer's personal data in clear: "
            f'{{"reason": "<at least {MIN_REASON} characters>"}} (it is kept in the audit log)'
        )
    check_free_text(reason, "reason", MAX_REASON)
    if len(set(reason.strip())) < 3:
        raise InvalidPayload("reason must say why, in words (not one repeated character)")
    return scrub_free_text(reason.strip())


def new_request(
    order_key: str, requester: Principal, reason: str, now: datetime, request_id: str | None = None
) -> RevealRequest:
    return RevealRequest(
        request_id=request_id or f"rv_{uuid.uuid4().hex[:16]}",
        order_key=order_key,
        requester=requester,
        reason=reason,
        requested_at=now.astimezone(UTC),
    )


def approve(request: RevealRequest, approver: Principal, now: datetime) -> RevealRequest:
    """The request approved by `approver`, who must be another key *and* another owner (one
    person holding two keys is still one person). Conflict when it is not pending or lapsed."""
    if approver.key_id == request.requester.key_id or approver.owner == request.requester.owner:
        raise Forbidden(
            "the two-person rule: a reveal must be approved by someone other than who asked "
            f"for it (asked by '{request.requester.owner}')"
        )
    if request.status != PENDING:
        raise Conflict(f"request {request.request_id} is {request.status} already")
    if now >= request.pending_until:
        raise Conflict(
            f"request {request.request_id} lapsed at {_iso(request.pending_until)} "
            "without approval; ask again"
        )
    return replace(
        request,
        status=APPROVED,
        approver=approver,
        approved_at=now.astimezone(UTC),
        version=request.version + 1,
    )


def check_grant(
    request: RevealRequest | None, caller: Principal, order_key: str, now: datetime
) -> RevealRequest:
    """The approved request that lets `caller` see `order_key` now; Forbidden saying what
    is missing otherwise."""
    how = (
        "ask with POST /orders/{platform}/{store}/{order_id}/personal-data/requests "
        '{"reason": ...}, have another person holding approve_decrypt approve it, then send '
        '{"request_id": ...} here within 30 minutes'
    )
    if request is None:
        raise Forbidden(f"a reveal needs an approved request (two-person rule): {how}")
    if request.order_key != order_key:
        raise Forbidden(f"request {request.request_id} is for another order: {how}")
    if request.requester.key_id != caller.key_id:
        raise Forbidden(
            f"request {request.request_id} was made by another key; only its requester may use it"
        )
    if request.status != APPROVED:
        raise Forbidden(f"request {request.request_id} is not approved yet ({request.status})")
    valid = request.valid_until
    if valid is None or now >= valid:
        raise Forbidden(
            f"request {request.request_id}'s grant ended at {_iso(valid) if valid else '?'}; "
            "ask again"
        )
    return request


def hour_of(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H")


def bulk_detail(key_id: str, owner: str, count: int, hour: str) -> str:
    return (
        f"key {key_id} ({owner}) asked for {count} reveals of buyers' personal data in the "
        f"hour {hour}:00 UTC; more than {MAX_REVEALS_PER_HOUR} an hour are refused. Check "
        "who holds the key; revoke it if the use is not explained"
    )


class RevealStore(Protocol):
    """Reveal requests and the per-key hourly reveal count."""

    def get_request(self, request_id: str) -> RevealRequest | None: ...

    def save_request(self, request: RevealRequest) -> None:
        """Version 1 creates it; a later version replaces it only if the stored one is
        version - 1 (else ConcurrentUpdate: two approvals cannot both win)."""
        ...

    def count_reveal(self, key_id: str, hour: str) -> int:
        """Add one to the key's reveals in `hour` (YYYY-MM-DDTHH, UTC); the new count."""
        ...
