"""Queue accepted events, sealed: the step every intake (webhooks, the Amazon queue, the pull
pollers) ends with. Pure: it reaches the queue and the vault through ports. The webhook's own
steps (which channel, verify, parse) are the channels' (channels/webhook.py): the domain does not
import the layer above it.
"""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.bounds import check_events
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.personal_data import PersonalDataVault, seal_event
from chalicelib.domain.ports import EventQueue, StoreRules

MAX_BODY_BYTES = 1024 * 1024


def enqueue_events(
    events: Sequence[OrderEvent],
    raw: bytes | str,
    queue: EventQueue,
    vault: PersonalDataVault,
    rules: StoreRules,
) -> tuple[str, ...]:
    """One message per event, each carrying the raw payload it came from (kept for
    investigation; bytes in another encoding stay readable). The event's buyer and the raw
    payload are sealed under one data key for the event's order before anything is sent, so
    no message (nor its S3 overflow) holds personal data in clear. Returns the message ids."""
    check_events(events)  # all or none: nothing queued that could never be booked
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    messages = []
    for event in events:
        sealed, sealed_raw = seal_event(event, text, vault, rules)
        message = {"event": sealed.to_dict(), "raw_sealed": sealed_raw.to_dict()}
        messages.append((message, event.correlation_id))
    if len(messages) == 1:
        return (queue.send(*messages[0]),)
    return tuple(queue.send_many(messages))  # SendMessageBatch: 10 a request
