"""Reveal requests (domain/reveal.py) and the per-key hourly reveal counts, in the catalog
table: a request at `REVEAL#<request id>`/`REVEAL`, a count at `REVEALS#<key id>`/`<hour>`.
Writes are conditional on the request's version, so two approvals cannot both win."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException, UpdateError

from chalicelib.adapters.dynamo_models import Models
from chalicelib.domain.errors import ConcurrentUpdate, TransientFailure
from chalicelib.domain.reveal import RevealRequest

CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoRevealStore:
    """reveal.RevealStore over the catalog table."""

    def __init__(self, models: Models) -> None:
        self._m = models

    def get_request(self, request_id: str) -> RevealRequest | None:
        catalog = self._m.catalog
        try:
            item = catalog.get(f"REVEAL#{request_id}", "REVEAL", consistent_read=True)
        except catalog.DoesNotExist:
            return None
        return RevealRequest.from_record(item.data.as_dict())

    def save_request(self, request: RevealRequest) -> None:
        catalog = self._m.catalog
        if request.version == 1:
            condition = catalog.pk.does_not_exist()
        else:
            condition = catalog.data["version"] == request.version - 1
        item = catalog(f"REVEAL#{request.request_id}", "REVEAL", data=request.to_record())
        try:
            item.save(condition=condition)
        except PutError as exc:
            if exc.cause_response_code == CONDITION_FAILED:
                raise ConcurrentUpdate(
                    f"request {request.request_id} changed meanwhile; read it again"
                ) from None
            raise TransientFailure("could not save the reveal request; retry") from exc

    def count_reveal(self, key_id: str, hour: str) -> int:
        catalog = self._m.catalog
        item: Any = catalog(f"REVEALS#{key_id}", hour, data={"count": 0})
        try:
            try:
                item.save(condition=catalog.pk.does_not_exist())
            except PutError as exc:
                if exc.cause_response_code != CONDITION_FAILED:
                    raise
            count = catalog.data["count"]
            item.update(actions=[count.set(count + 1)])
        except (PutError, UpdateError, PynamoDBException) as exc:
            raise TransientFailure("could not count the reveal; retry") from exc
        return int(item.data.as_dict()["count"])
