"""Adding a store: what an operator gives, checked before anything is written. Pure Python.

A store is a seller's shop on one platform: its id in OrderHub (the `{store}` of its webhook
URL; for Amazon its SellerId), its time zone (naive platform times are read in it), booking
rules, and its credentials in Secrets Manager under `orderhub/{stage}/stores/{platform}/{store}`
(`orderhub/stores/{platform}/{store}` without a stage: the local stack). The name is kept on the
store's catalog item, which is what every reader uses: a store keeps the name it was created with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.ports import Store, StoreRules
from chalicelib.domain.timeutil import zone

STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def secret_name(platform: str, store_id: str, stage: str = "") -> str:
    """Where a new store's credentials go: under its stage's prefix when there is a stage."""
    staged = f"{stage}/" if stage else ""
    return f"orderhub/{staged}stores/{platform}/{store_id}"


def new_store(
    platform: str,
    store_id: str,
    timezone: str,
    name: str,
    rules: Mapping[str, Any],
    credentials: Mapping[str, Any],
    platforms: Mapping[str, Callable[[Mapping[str, Any]], object] | None],
    stage: str = "",
) -> Store:
    """The store to write, or InvalidPayload saying what to fix. `platforms` maps each
    supported platform to its credentials reader (None where there is nothing to check);
    `stage` (settings: ORDERHUB_STAGE) puts its secret under the stage's prefix."""
    if platform not in platforms:
        raise InvalidPayload(
            f"platform '{platform}' is not supported; supported: {', '.join(sorted(platforms))}"
        )
    if not STORE_ID.match(store_id):
        raise InvalidPayload(
            "store id must be 1-64 letters, digits, '.', '_' or '-' (it is part of the webhook URL)"
        )
    try:
        zone(timezone)
    except ValueError as exc:
        raise InvalidPayload(f"timezone: {exc}") from None
    unknown = sorted(set(rules) - set(StoreRules.__dataclass_fields__))
    if unknown:
        raise InvalidPayload(
            f"unknown rules: {', '.join(unknown)}; known: "
            + ", ".join(StoreRules.__dataclass_fields__)
        )
    try:
        store_rules = StoreRules(**dict(rules))
    except (TypeError, ValueError) as exc:
        raise InvalidPayload(f"rules: {exc}") from None
    if not isinstance(credentials, Mapping) or not credentials:
        raise InvalidPayload("credentials must be a non-empty JSON object")
    check = platforms[platform]
    if check is not None:
        try:
            check(credentials)
        except Exception as exc:  # the channel says which fields it lacks
            raise InvalidPayload(f"credentials: {getattr(exc, 'message', exc)}") from None
    secret = secret_name(platform, store_id, stage)
    return Store(platform, store_id, secret, timezone, name, store_rules)
