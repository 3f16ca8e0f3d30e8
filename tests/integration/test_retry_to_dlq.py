"""A message that keeps failing transiently is retried with growing delays and lands in the
DLQ after exactly 5 attempts — the worker, the handler and the queues as the stack runs them."""

from __future__ import annotations

import time
from functools import cached_property
from itertools import pairwise

from app import app
from chalicelib.deps import Container, use_container
from chalicelib.domain.delivery import MAX_ATTEMPTS
from chalicelib.domain.errors import TransientFailure
from local.provision import load_template
from local.worker import SqsPoller
from tests.builders import event

REGION = "us-east-1"


class DynamoDown:
    def get_order(self, key):
        raise TransientFailure("DynamoDB throttled (injected)")


class BrokenContainer(Container):
    @cached_property
    def orders(self):  # type: ignore[override]
        return DynamoDown()


def test_poison_message_reaches_the_dlq_after_five_growing_waits(emulated_stack):
    sqs = emulated_stack.session.client("sqs")
    resources = emulated_stack.resources
    environ = {**emulated_stack.environ, "ORDERHUB_RETRY_BASE_SECONDS": "1"}
    deps = BrokenContainer(environ=environ)
    use_container(deps)
    from chalicelib.domain.ports import Store

    deps.catalog_store.put_store(Store("mall", "s1", "orderhub/stores/mall/s1"))
    queue, dlq = resources["OrderEventsQueue"], resources["OrderEventsDeadLetterQueue"]
    assert template_max_receive_count() == MAX_ATTEMPTS
    deps.queue.send({"event": event().to_dict(), "raw": "{}"}, "mall#s1#o-1")
    poller = SqsPoller(
        sqs,
        queue.ref,
        queue.attrs["Arn"],
        "handle_order_events",
        app.handler_map["handle_order_events"],
        REGION,
        wait_seconds=1,
    )
    attempts: list[float] = []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if poller.poll_once():
            attempts.append(time.monotonic())
        in_dlq = int(
            sqs.get_queue_attributes(
                QueueUrl=dlq.ref, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        if in_dlq:
            break
    assert len(attempts) == MAX_ATTEMPTS
    assert in_dlq == 1
    gaps = [b - a for a, b in pairwise(attempts)]
    assert all(later > earlier for earlier, later in pairwise(gaps)), gaps
    assert gaps[0] >= 0.9 and gaps[-1] >= 7.5  # 1, 2, 4, 8 s (base 1 s for the test)
    trail = deps.trail.get(event().event_key)  # every attempt on the trail, not final
    assert [a["attempt"] for a in trail["attempts"]] == [1, 2, 3, 4, 5]
    assert {a["error_class"] for a in trail["attempts"]} == {"TransientFailure"}
    assert trail["attempts"][-1]["error"] == "DynamoDB throttled (injected)"  # for `dlq show`
    assert trail["final_outcome"] is None


def template_max_receive_count() -> int:
    props = load_template()["Resources"]["OrderEventsQueue"]["Properties"]
    return int(props["RedrivePolicy"]["maxReceiveCount"])
