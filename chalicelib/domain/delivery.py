"""Delivery guarantees for queued events: which failures are retried, and how long to wait.

Transient failures (throttling, transaction conflicts, timeouts, a dependency down) are
retried with exponential backoff: the message's visibility is set to
base x 2^(attempt-1) seconds, capped, so attempts spread out instead of hammering a
struggling dependency; after the queue's maxReceiveCount (5) the redrive policy parks the
message in the DLQ. Permanent failures (a message that cannot be read, a store that no longer
exists) are not retried: they are recorded as rejected with their reason at once.
"""

from __future__ import annotations

from chalicelib.domain.errors import InvalidPayload, OrderHubError, UnknownStore

MAX_ATTEMPTS = 5  # must equal the queue's RedrivePolicy maxReceiveCount (a test checks)
BASE_DELAY_SECONDS = 10
MAX_DELAY_SECONDS = 15 * 60


class InvalidMessage(OrderHubError):
    """A queued message OrderHub cannot read: retrying cannot help."""

    code = "invalid_message"


# An input problem (InvalidPayload: bounds, shapes) is never worth a retry, so never the DLQ's.
PERMANENT_FAILURES: tuple[type[Exception], ...] = (InvalidMessage, InvalidPayload, UnknownStore)


def is_permanent(exc: Exception) -> bool:
    return isinstance(exc, PERMANENT_FAILURES)


def backoff_seconds(
    attempt: int, base: int = BASE_DELAY_SECONDS, cap: int = MAX_DELAY_SECONDS
) -> int:
    """Visibility delay before attempt `attempt + 1`: base, 2 base, 4 base, ... up to cap."""
    return int(min(cap, base * 2 ** (max(1, attempt) - 1)))
