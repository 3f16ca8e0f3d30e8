"""The two-person reveal on the running stack: ask with one key, approve with another."""

from __future__ import annotations

import requests

OPS_KEY = "oh_dev_ops_local_only"  # the seed's ops key: holds approve_decrypt
CS_KEY = "oh_dev_cs_local_only"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def approved_request(api: str, order_path: str, requester: dict[str, str], reason: str) -> str:
    """A reveal request for `order_path` (`/orders/{platform}/{store}/{order_id}`) asked with
    `requester`'s headers and approved with the seed's ops key; its id."""
    asked = requests.post(
        f"{api}{order_path}/personal-data/requests",
        json={"reason": reason},
        headers=requester,
        timeout=10,
    )
    assert asked.status_code == 201, asked.text
    request_id = str(asked.json()["request_id"])
    approved = requests.post(
        f"{api}/personal-data/requests/{request_id}/approve", headers=bearer(OPS_KEY), timeout=10
    )
    assert approved.status_code == 200, approved.text
    return request_id
