"""A push run's batching (issue 16 item 1): the listings preloaded in one BatchGetItem, with
the one-by-one reads as the fallback, and the records one write per SKU that never fail a
push. Fake clients; the request counts on moto are tests/integration/test_push_request_diet.py."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.adapters.listings import DynamoListingMap
from chalicelib.adapters.order_search import PushRecorder, RecordingPushClient
from chalicelib.domain.errors import ChannelUnavailable
from chalicelib.domain.listings import Listing

NOW = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)


def item(channel: str, sku: str) -> dict:
    return {"channel": {"S": channel}, "sku": {"S": sku}, "ids": {"M": {"id": {"S": "7"}}}}


class FakeDynamo:
    def __init__(self, items, fail_batch=False, unprocessed=()):
        self.items = {(i["channel"]["S"], i["sku"]["S"]): i for i in items}
        self.fail_batch = fail_batch
        self.unprocessed = list(unprocessed)
        self.calls: list[str] = []
        self.updates: list[dict] = []

    def batch_get_item(self, RequestItems):
        self.calls.append("BatchGetItem")
        if self.fail_batch:
            raise RuntimeError("throttled")
        (table, request), *_ = RequestItems.items()
        found, left = [], []
        for key in request["Keys"]:
            wanted = (key["channel"]["S"], key["sku"]["S"])
            if wanted in self.unprocessed:
                left.append(key)
            elif wanted in self.items:
                found.append(self.items[wanted])
        answer = {"Responses": {table: found}}
        if left:
            answer["UnprocessedKeys"] = {table: {"Keys": left, "ConsistentRead": True}}
        return answer

    def get_item(self, TableName, Key, ConsistentRead):
        self.calls.append("GetItem")
        got = self.items.get((Key["channel"]["S"], Key["sku"]["S"]))
        return {"Item": got} if got else {}

    def put_item(self, TableName, Item):
        self.calls.append("PutItem")
        self.items[(Item["channel"]["S"], Item["sku"]["S"])] = Item

    def update_item(self, **kwargs):
        self.calls.append("UpdateItem")
        self.updates.append(kwargs)


def test_preloaded_listings_are_read_once_and_kept_current_by_puts():
    ddb = FakeDynamo([item("tiktok#s1", "A")])
    listings = DynamoListingMap(ddb, "listings")
    with listings.preloaded([("tiktok", "s1", "A"), ("tiktok", "s1", "B")]):
        assert listings.get("tiktok", "s1", "A").ids == {"id": "7"}
        assert listings.get("tiktok", "s1", "B") is None  # known absent: no GetItem
        listings.put(Listing("tiktok", "s1", "B", {"id": "8"}, NOW, "found"))
        assert listings.get("tiktok", "s1", "B").ids == {"id": "8"}
    assert ddb.calls == ["BatchGetItem", "PutItem"]
    listings.get("tiktok", "s1", "A")  # outside a run: read as before
    assert ddb.calls[-1] == "GetItem"


def test_a_failed_or_throttled_preload_falls_back_to_one_read_each():
    ddb = FakeDynamo([item("tiktok#s1", "A")], fail_batch=True)
    listings = DynamoListingMap(ddb, "listings")
    with listings.preloaded([("tiktok", "s1", "A")]):
        assert listings.get("tiktok", "s1", "A") is not None
    assert ddb.calls == ["BatchGetItem", "GetItem"]

    ddb = FakeDynamo([item("tiktok#s1", "A")], unprocessed=[("tiktok#s1", "A")])
    listings = DynamoListingMap(ddb, "listings")
    with listings.preloaded([("tiktok", "s1", "A")]):
        assert listings.get("tiktok", "s1", "A") is not None  # never taken for absent
    assert ddb.calls.count("GetItem") == 1


class Channels:
    """Push clients: `down` channels are unavailable."""

    def __init__(self, down=()):
        self.down = set(down)
        self.runs: list[list] = []

    def push_many(self, platform, store, items):
        if (platform, store) in self.down:
            return {sku: ChannelUnavailable("down") for sku, _ in items}
        return {sku: None for sku, _ in items}

    def run(self, pushes):
        import contextlib

        self.runs.append(list(pushes))
        return contextlib.nullcontext()


def test_a_runs_records_are_one_write_per_sku_with_every_delivered_channel():
    ddb = FakeDynamo([])
    inner = Channels(down={("jd", "j1")})
    client = RecordingPushClient(inner, PushRecorder(ddb, "stats"), lambda: NOW)
    keys = [("tiktok", "t1", "A"), ("mall", "m1", "A"), ("jd", "j1", "A"), ("tiktok", "t1", "B")]
    with client.run(keys):
        client.push_many("tiktok", "t1", [("A", 3), ("B", 5)])
        client.push_many("mall", "m1", [("A", 3)])
        client.push_many("jd", "j1", [("A", 3)])
        assert ddb.updates == []  # recorded at the run's end
    assert inner.runs == [keys]
    by_sku = {u["Key"]["sk"]["S"]: u for u in ddb.updates}
    assert sorted(by_sku) == ["A", "B"]
    names = sorted(by_sku["A"]["ExpressionAttributeNames"].values())
    assert names == ["ch:mall#m1", "ch:tiktok#t1"]  # jd was not delivered: not recorded
    assert by_sku["A"]["UpdateExpression"] == "SET #c0 = :v0, #c1 = :v1"


def test_a_record_that_cannot_be_written_never_fails_the_push():
    class Broken(FakeDynamo):
        def update_item(self, **kwargs):
            raise RuntimeError("ops-stats down")

    errors: list[Exception] = []
    client = RecordingPushClient(
        Channels(), PushRecorder(Broken([]), "stats"), lambda: NOW, on_error=errors.append
    )
    with client.run([("tiktok", "t1", "A")]):
        assert client.push_many("tiktok", "t1", [("A", 1)]) == {"A": None}
    assert len(errors) == 1
