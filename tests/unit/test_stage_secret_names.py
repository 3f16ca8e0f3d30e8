"""Stores' and tracking providers' secrets carry the stage (issue 17 item 3): a new store of
stage prod keeps its credentials under `orderhub/prod/stores/...`, the tracking clients of
stage prod read `orderhub/prod/tracking/...`; without a stage (the local stack) the names are
today's. A store keeps the secret name its catalog item records. And each stage's functions
emit their metrics in the stage's own namespace."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.adapters.tracking_clients import (
    AfterShipClient,
    Kuaidi100Client,
    verification_secrets,
)
from chalicelib.adapters.tracking_clients import secret_name as tracking_secret
from chalicelib.deps import Container
from chalicelib.domain.stores import new_store
from chalicelib.domain.stores import secret_name as store_secret
from chalicelib.observability import namespace
from chalicelib.settings import metrics_namespace
from local.stub_tracking import SECRETS, seed_tracking_secrets
from tests.fakes import FakeSecrets

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stage", "store", "tracking"),
    [
        ("", "orderhub/stores/mall/s1", "orderhub/tracking/kuaidi100"),
        ("prod", "orderhub/prod/stores/mall/s1", "orderhub/prod/tracking/kuaidi100"),
        ("staging", "orderhub/staging/stores/mall/s1", "orderhub/staging/tracking/kuaidi100"),
    ],
)
def test_the_secret_names_carry_the_stage(stage, store, tracking):
    assert store_secret("mall", "s1", stage) == store
    assert tracking_secret("kuaidi100", stage) == tracking


def _store(stage: str = "") -> str:
    made = new_store(
        "mall", "s1", "UTC", "Shop", {}, {"webhook_secret": "w"}, {"mall": None}, stage
    )
    return made.secret_name


def test_a_new_store_records_its_stages_secret_name():
    assert _store() == "orderhub/stores/mall/s1"
    assert _store("prod") == "orderhub/prod/stores/mall/s1"


class Opened:
    """An opener that must not be reached: the secret is read first."""

    def __call__(self, *args: object, **kwargs: object) -> object:
        raise AssertionError("no call expected")


def test_the_tracking_clients_read_their_stages_secrets():
    prod = {"orderhub/prod/tracking/kuaidi100": {"key": "k", "customer": "c", "salt": "p"}}
    prod["orderhub/prod/tracking/aftership"] = {"api_key": "a", "webhook_secret": "h"}
    secrets = FakeSecrets(prod)
    kuaidi = Kuaidi100Client("http://127.0.0.1:9", secrets, "cb", Opened(), stage="prod")
    assert kuaidi._secret()["salt"] == "p"
    after = AfterShipClient("http://127.0.0.1:9", secrets, Opened(), stage="prod")
    assert after._headers()["as-api-key"] == "a"
    assert verification_secrets(secrets, "kuaidi100", NOW, "prod") == ["p"]
    assert verification_secrets(secrets, "aftership", NOW, "prod") == ["h"]
    with pytest.raises(KeyError):  # the stage-less secret is not another stage's
        verification_secrets(secrets, "kuaidi100", NOW)


def test_the_container_gives_the_tracking_clients_its_stage(monkeypatch):
    deps = Container(environ={"ORDERHUB_STAGE": "staging"})
    monkeypatch.setattr(Container, "settings", _Settings("staging"))
    monkeypatch.setattr(Container, "secrets", FakeSecrets({}))
    providers = deps.tracking_providers
    assert providers["kuaidi100"]._stage == "staging"
    assert providers["aftership"]._stage == "staging"


class _Settings:
    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.link_base_url = "https://orders.example.com"
        self.kuaidi100_api_url = "http://127.0.0.1:9"
        self.aftership_api_url = "http://127.0.0.1:9"


class _SecretsManager:
    def __init__(self) -> None:
        self.names: list[str] = []

    def create_secret(self, Name: str, SecretString: str) -> None:
        self.names.append(Name)


@pytest.mark.parametrize("stage", ["", "dev"])
def test_the_local_stack_seeds_the_tracking_secrets_its_stage_reads(stage):
    client = _SecretsManager()
    seed_tracking_secrets(client, stage)
    assert sorted(client.names) == sorted(
        tracking_secret(p, stage) for p in ("kuaidi100", "aftership")
    )
    assert stage or set(client.names) == set(SECRETS)


def test_the_functions_emit_in_their_stages_metrics_namespace(monkeypatch):
    """infra Globals set POWERTOOLS_METRICS_NAMESPACE to `OrderHub-${Stage}` (the alarms'
    namespace: tests/integration/test_stages_and_upgrades.py); unset, `OrderHub`."""
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    assert namespace() == metrics_namespace("") == "OrderHub"
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", metrics_namespace("prod"))
    assert namespace() == "OrderHub-prod"
    assert metrics_namespace("staging") == "OrderHub-staging"
