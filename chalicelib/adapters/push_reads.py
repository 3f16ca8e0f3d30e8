"""A stock-push run's reads in one request: BatchGetItem spans tables, so the push states of
the run's SKUs (their stock items, adapters/dynamo.py `push_state_keys`) and their listings in
the marketplace stores (adapters/listings.py) come from one consistent read instead of two.

Nothing changes in what is read or how fresh it is: both reads were consistent BatchGetItems
at the start of the run; only the request is shared. If it fails, nothing is preloaded and
each read happens on its own, as without it."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from chalicelib.adapters.dynamo import DynamoOrderRepository
from chalicelib.adapters.listings import DynamoListingMap, ListingKey
from chalicelib.domain.ports import SkuPushState

log = logging.getLogger("orderhub.push_reads")

BATCH_GET_KEYS = 100  # BatchGetItem's limit per request, all tables together
BATCH_GET_ROUNDS = 8  # unprocessed keys asked again before giving the preload up


def _read(client: Any, keys: Sequence[tuple[str, Any]]) -> dict[str, list[Any]]:
    """Each table's items for `keys` ((table, key) pairs), consistent, 100 keys a call."""
    found: dict[str, list[Any]] = {}
    for start in range(0, len(keys), BATCH_GET_KEYS):
        request: dict[str, Any] = {}
        for table, key in keys[start : start + BATCH_GET_KEYS]:
            request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        for _ in range(BATCH_GET_ROUNDS):
            answer = client.batch_get_item(RequestItems=request)
            for table, items in answer.get("Responses", {}).items():
                found.setdefault(table, []).extend(items)
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
        if request:
            raise RuntimeError("DynamoDB left keys of the push run's read unprocessed")
    return found


@contextmanager
def push_run_reads(
    client: Any,
    orders: Any,
    listings: Any,
    skus: Sequence[str],
    warehouses: Sequence[str],
    listing_keys: Sequence[ListingKey],
) -> Iterator[dict[str, SkuPushState]]:
    """Yields the SKUs' push states (for `push_stock_changes(states=...)`), with their
    listings preloaded for the run's pushes; yields {} (and preloads nothing) when the
    adapters are not DynamoDB's or the read fails."""
    if not (
        skus
        and warehouses
        and isinstance(orders, DynamoOrderRepository)
        and isinstance(listings, DynamoListingMap)
    ):
        yield {}
        return
    inventory = orders.inventory_table
    keys = [(inventory, key) for key in orders.push_state_keys(skus, warehouses)]
    keys += [(listings.table, key) for key in listings.item_keys(dict.fromkeys(listing_keys))]
    try:
        found = _read(client, keys)
        states = orders.push_states_from(skus, warehouses, found.get(inventory, []))
    except Exception:  # each read on its own instead
        log.warning("push run's read failed; reading one by one", exc_info=True)
        yield {}
        return
    with listings.preloaded_from(listing_keys, found.get(listings.table, [])):
        yield states
