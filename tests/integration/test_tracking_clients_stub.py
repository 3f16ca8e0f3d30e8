"""The tracking clients (adapters/tracking_clients.py) against the stub tracking provider over
loopback HTTP: 快递100's subscription and signed query, AfterShip's trackings API, and the
stub's push reaching a callback signed so that the channels verify it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from chalicelib.adapters.tracking_clients import (
    AfterShipClient,
    Kuaidi100Client,
    TrackingUnavailable,
    verification_secrets,
)
from chalicelib.channels.base import Delivery
from chalicelib.channels.tracking_aftership import (
    SIGNATURE_HEADER,
    parse_aftership,
    verify_aftership,
)
from chalicelib.channels.tracking_kuaidi100 import parse_kuaidi100, verify_kuaidi100
from chalicelib.domain.tracking import DELIVERED
from local.stub_tracking import SECRETS, TrackingStub
from tests.fakes import FakeSecrets

NOW = datetime.now(UTC).replace(microsecond=0)


class Callbacks(BaseHTTPRequestHandler):
    """OrderHub's side: records what the stub pushes, answers as OrderHub does."""

    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Callbacks.received.append((self.path, dict(self.headers), raw))
        body = json.dumps({"result": True, "returnCode": "200", "message": "成功"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def world() -> Iterator[tuple[TrackingStub, str]]:
    Callbacks.received = []
    api = ThreadingHTTPServer(("127.0.0.1", 0), Callbacks)
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    api_url = f"http://127.0.0.1:{api.server_port}"
    stub = TrackingStub(api_url, port=0).start()
    yield stub, api_url
    stub.stop()
    api.shutdown()
    api.server_close()


def test_kuaidi100_subscribe_push_and_query(world):
    stub, api_url = world
    secrets = FakeSecrets(dict(SECRETS))
    client = Kuaidi100Client(stub.url, secrets, f"{api_url}/tracking/kuaidi100/callback")
    client.subscribe("yuantong", "YT1")
    assert client.query("yuantong", "YT1", NOW) is None  # nothing known yet
    checkpoints = [{"at": (NOW - timedelta(hours=h)).isoformat(), "text": f"{h}h"} for h in (5, 2)]
    push = {"carrier": "yuantong", "number": "YT1", "checkpoints": checkpoints}
    stub_answer = _post(f"{stub.url}/_stub/tracking/push", push)
    assert stub_answer["callback_status"] == 200
    [(path, _, raw)] = Callbacks.received
    assert path == "/tracking/kuaidi100/callback"
    salts = verification_secrets(secrets, "kuaidi100", NOW)
    update = parse_kuaidi100(verify_kuaidi100(raw, salts), NOW)
    assert [c.text for c in update.checkpoints] == ["5h", "2h"]
    assert update.last_at == NOW - timedelta(hours=2)
    polled = client.query("yuantong", "YT1", NOW)
    assert polled is not None and polled.version == update.version and polled.via == "poll"


def test_aftership_subscribe_push_and_query(world):
    stub, _ = world
    secrets = FakeSecrets(dict(SECRETS))
    client = AfterShipClient(stub.url, secrets)
    client.subscribe("ups", "1Z1")
    push = {
        "provider": "aftership",
        "carrier": "ups",
        "number": "1Z1",
        "checkpoints": [{"at": NOW.isoformat(), "text": "Delivered"}],
        "delivered": True,
    }
    assert _post(f"{stub.url}/_stub/tracking/push", push)["callback_status"] == 200
    [(path, headers, raw)] = Callbacks.received
    assert path == "/tracking/aftership/callback"
    delivery = Delivery.of(headers, raw, NOW)
    verify_aftership(
        raw, delivery.header(SIGNATURE_HEADER), verification_secrets(secrets, "aftership", NOW)
    )
    update = parse_aftership(raw, NOW)
    assert update is not None and update.state == DELIVERED
    polled = client.query("ups", "1Z1", NOW)
    assert polled is not None and polled.state == DELIVERED
    assert client.query("ups", "NOPE", NOW) is None  # AfterShip's 404: not known (yet)


def test_wrong_credentials_and_a_dead_provider_are_unavailable(world):
    stub, api_url = world
    bad = FakeSecrets(
        {
            "orderhub/tracking/kuaidi100": {"key": "wrong", "customer": "c", "salt": "s"},
            "orderhub/tracking/aftership": {"api_key": "wrong", "webhook_secret": "w"},
        }
    )
    with pytest.raises(TrackingUnavailable, match="refused"):
        Kuaidi100Client(stub.url, bad, f"{api_url}/cb").subscribe("yuantong", "YT2")
    with pytest.raises(TrackingUnavailable, match="HTTP 401"):
        AfterShipClient(stub.url, bad).subscribe("ups", "1Z2")
    dead = Kuaidi100Client("http://127.0.0.1:9", FakeSecrets(dict(SECRETS)), f"{api_url}/cb")
    with pytest.raises(TrackingUnavailable):
        dead.subscribe("yuantong", "YT3")


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    import requests

    response = requests.post(url, json=body, timeout=20)
    assert response.status_code == 200, response.text
    return dict(response.json())
