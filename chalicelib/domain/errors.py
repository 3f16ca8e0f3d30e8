"""Domain errors. Each carries a stable machine code and a message a person can act on.

HTTP statuses for them are assigned in one place, `chalicelib.api.http`.
"""

from __future__ import annotations


class OrderHubError(Exception):
    """Base of every error OrderHub raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PayloadTooLarge(OrderHubError):
    code = "payload_too_large"


class UnknownPlatform(OrderHubError):
    code = "unknown_platform"


class UnknownStore(OrderHubError):
    code = "unknown_store"


class InvalidSignature(OrderHubError):
    code = "invalid_signature"


class StaleTimestamp(OrderHubError):
    code = "stale_timestamp"


class InvalidPayload(OrderHubError):
    code = "invalid_payload"


class Unauthenticated(OrderHubError):
    code = "unauthenticated"


class NotFound(OrderHubError):
    code = "not_found"


class Forbidden(OrderHubError):
    """The caller is known but its role lacks the permission the action needs."""

    code = "forbidden"


class Conflict(OrderHubError):
    """The request contradicts the current state of what it addresses (rotate a revoked key)."""

    code = "conflict"


class StockConflict(OrderHubError):
    """The request contradicts the stock or order as it stands (ship more than locked, count
    below what is committed)."""

    code = "stock_conflict"


class AlreadyProcessed(OrderHubError):
    """The event's record exists: this delivery was handled before."""

    code = "already_processed"


class ConcurrentUpdate(OrderHubError):
    """The order or a stock item changed between read and write; re-plan and try again."""

    code = "concurrent_update"


class Throttled(ConcurrentUpdate):
    """A write was refused for rate (DynamoDB's per-item or per-partition limit): re-plan and
    try again after a pause; never a reason to reject."""

    code = "throttled"


class TransientFailure(OrderHubError):
    """Worth retrying later (contention that outlasted our retries, a dependency down)."""

    code = "transient_failure"


class ChannelUnavailable(TransientFailure):
    """A sales channel's API did not take a stock push (down, timed out, rate-limited): the
    push stays pending and the next run retries it."""

    code = "channel_unavailable"


class ChannelRejected(OrderHubError):
    """A sales channel refused a stock push for good (4xx, e.g. the SKU is not listed there):
    retrying cannot help, a person must look."""

    code = "channel_rejected"


class ChannelCredentialsRejected(ChannelRejected):
    """A sales channel refused the store's credentials (token expired or revoked, wrong
    secret, missing fields): every SKU of the store fails alike, so it is one matter per store."""

    code = "channel_credentials_rejected"
