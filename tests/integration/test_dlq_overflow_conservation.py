"""Issue 12, item 7, on moto: a message that overflowed to S3 and was parked in the DLQ counts
as in the DLQ (not lost) in conservation, and `dlq show` names it and says why it failed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chalicelib.adapters.messaging import MAX_INLINE_BYTES, SqsEventQueue
from chalicelib.api.operations import conservation
from chalicelib.deps import use_container
from chalicelib.domain.dlq import describe, last_failure
from chalicelib.domain.ports import Store
from tests.builders import event


def park_overflowing(container, order_id: str) -> str:
    """An event whose message overflows SQS, sent straight to the DLQ (as a redrive puts it)."""
    ev = event(order_id=order_id, store="s1")
    dlq = SqsEventQueue(
        container.sqs,
        container.settings.order_dlq_url,
        container.s3,
        container.settings.raw_bucket,
    )
    dlq.send({"event": ev.to_dict(), "raw": "x" * (MAX_INLINE_BYTES + 1)}, ev.order_key)
    return ev.event_key


def test_an_overflowed_message_in_the_dlq_counts_as_parked_not_lost(container):
    use_container(container)
    try:
        container.catalog_store.put_store(Store("mall", "s1", "orderhub/stores/mall/s1"))
        key = park_overflowing(container, "o-overflow")
        received = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
        container.trail.record_receipt(key, "mall", "s1", received, 12, "m-1")
        (message,) = container.dead_letters.browse()
        assert '"overflow"' in message["Body"]  # a pointer, as parked
        assert describe(message).event_key == key  # named by the pointer's summary
        (balance,) = conservation(container, "2026-11-25", "mall/s1")
        assert (balance.accepted, balance.in_dlq, balance.difference) == (1, 1, 0)
    finally:
        use_container(None)


def test_an_old_pointer_without_a_summary_is_followed_through_s3(container):
    key = park_overflowing(container, "o-old-pointer")
    (message,) = container.dead_letters.browse()
    body = json.loads(message["Body"])
    old = {**message, "Body": json.dumps({"overflow": body["overflow"]})}  # before issue 12
    assert describe(old).event_key == ""
    assert describe(old, container.loader.load).event_key == key


def test_the_last_failure_is_kept_on_the_trail_scrubbed(container):
    at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    container.trail.record_receipt("mall#s1#d1", "mall", "s1", at, 5, "m-1")
    container.trail.record_attempt(
        "mall#s1#d1", at, 5, error_class="TransientFailure", error="throttled; buyer [phone]"
    )
    found = last_failure(container.trail.get("mall#s1#d1"))
    assert found.endswith("TransientFailure: throttled; buyer [phone]")
    assert found.startswith("attempt 5 at 2026-11-25T08:00:00")
