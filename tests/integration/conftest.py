"""Integration tests: our adapters against moto (in-process `mock_aws`), resources created from
infra/resources.json exactly as the local stack creates them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
import requests
from botocore.client import BaseClient
from moto import mock_aws

from chalicelib.deps import Container, use_container
from local.emulator import Emulator, set_fake_aws_env
from local.provision import Resolved, function_environment, load_template, provision
from tests.fakes import FixedClock

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


@pytest.fixture
def stack_env(aws: boto3.session.Session) -> dict[str, str]:
    """Every infra resource created; the functions' environment as AWS would set it."""
    template = load_template()
    resources = provision(template, aws.client, REGION)
    return {**function_environment(template, resources, REGION), "AWS_REGION": REGION}


@pytest.fixture
def container(stack_env: dict[str, str]) -> Container:
    return Container(environ=stack_env, now=FixedClock())


@dataclass
class EmulatedStack:
    """The infra resources on a real (serialized, HTTP) emulator, as the local stack has them."""

    session: boto3.session.Session
    resources: dict[str, Resolved]
    environ: dict[str, str]


@pytest.fixture
def emulated_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatedStack]:
    env: dict[str, str] = {}
    set_fake_aws_env(env, REGION)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with Emulator() as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
        session = boto3.session.Session(region_name=REGION)
        template = load_template()
        resources = provision(template, session.client, REGION)
        environ = {**function_environment(template, resources, REGION), "AWS_REGION": REGION}
        yield EmulatedStack(session, resources, environ)
        use_container(None)
        requests.post(f"{emulator.endpoint_url}/moto-api/reset", timeout=10)  # moto is global


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every AWS API call any botocore client makes (pynamodb's included), by service.op:
    the request-diet tests count them."""
    counted: Counter[str] = Counter()
    real = BaseClient._make_api_call

    def counting(self: BaseClient, operation: str, params: dict) -> object:
        counted[f"{self.meta.service_model.service_name}.{operation}"] += 1
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    yield counted
