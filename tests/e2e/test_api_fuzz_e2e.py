"""Issue 7: the API fuzzed from its own description (schemathesis over HTTP, against the local
stack): at least 1,000 generated requests, no 5xx, every error `{"error", "message"}`,
answers as documented, and nothing enqueued by any of it. How and why: tests/e2e/fuzz.py."""

from __future__ import annotations

import pytest

from tests.builders import mall_payload
from tests.e2e.conftest import SEED
from tests.e2e.fuzz import (
    fuzz,
    issue_throwaway_admin,
    revoke_fuzz_keys,
    send_message_count,
)

pytestmark = pytest.mark.e2e

EXAMPLES = 22  # per operation and mode (webhooks 4x): about 1,300 requests over 33 operations
MIN_REQUESTS = 1000


def seeded_stores() -> dict[str, str]:
    stores: dict[str, str] = {}
    for store in SEED["stores"]:
        stores.setdefault(store["platform"], store["store_id"])
    return stores


def test_fuzzing_the_api_from_its_description(stack, capsys):
    stack.wait_for_empty_queue()  # nothing of earlier tests still on its way in
    key = issue_throwaway_admin(stack.api, stack.auth)
    before = send_message_count(stack.aws)
    try:
        run = fuzz(stack.api, key["key"], EXAMPLES, seeded_stores())
    finally:
        revoked = revoke_fuzz_keys(stack.api, stack.auth)
    after = send_message_count(stack.aws)
    with capsys.disabled():
        print(f"\nfuzz: {run.summary()}; SendMessage {before} -> {after}; keys revoked {revoked}")

    assert run.requests >= MIN_REQUESTS, run.summary()
    assert not run.failures, f"{len(run.failures)} failed checks:\n" + "\n".join(run.failures[:40])
    assert after == before, (
        f"{after - before} messages were queued during the fuzz: every generated webhook is "
        "unsigned or wrongly signed, so nothing may reach the order queue"
    )
    # the refusals were reached, not only the happy paths
    assert run.by_status[401] and run.by_status[400] and run.by_status[404]
    assert run.by_operation["POST /webhooks/{platform}/{store}"] >= 4 * EXAMPLES

    # control: the counter does see a queued event (one properly signed webhook)
    tea = [{"sku": "TEA-LONGJING-250G", "quantity": 1, "unit_price": "88.00"}]
    assert stack.post_order(mall_payload("E2E-FUZZ-CONTROL", lines=tea), "msg_e2e_fuzz_ctl").ok
    assert send_message_count(stack.aws) == after + 1
    stack.wait_for_order("E2E-FUZZ-CONTROL")
