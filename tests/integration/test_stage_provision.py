"""A named stage provisioned on moto as the local stack does (ORDERHUB_STAGE=dev make run): every
resource carries the stage, and the functions' environment names them and the stage."""

from __future__ import annotations

from chalicelib.adapters.health_probes import build_health_probes
from chalicelib.domain.channel_health import Health, interpret
from chalicelib.domain.ports import Store
from chalicelib.settings import Settings, resource_name
from local.provision import (
    LAMBDA_QUEUE_PREFIX,
    function_environment,
    load_template,
    provision,
)
from tests.fakes import FakeSecrets

REGION = "us-east-1"


def test_a_dev_stage_provisions_its_own_names(aws):
    template = load_template(stage="dev")
    resources = provision(template, aws.client, REGION, "dev")
    env = {**function_environment(template, resources, REGION, "dev"), "AWS_REGION": REGION}
    tables = aws.client("dynamodb").list_tables()["TableNames"]
    assert len(tables) >= 13 and all(t.startswith("orderhub-dev-") for t in tables)
    queues = [u.rsplit("/", 1)[-1] for u in aws.client("sqs").list_queues()["QueueUrls"]]
    assert resource_name("dev", "orderhub-order-events") in queues
    # besides the local stand-ins of Lambda's topic subscriptions (named after the topic)
    ours = [q for q in queues if not q.startswith(LAMBDA_QUEUE_PREFIX)]
    assert len(ours) >= 5 and all(q.startswith("orderhub-dev-") for q in ours)
    topics = [t["TopicArn"] for t in aws.client("sns").list_topics()["Topics"]]
    assert all(":orderhub-dev-" in t for t in topics) and len(topics) == 4
    aliases = [a["AliasName"] for a in aws.client("kms").list_aliases()["Aliases"]]
    assert "alias/orderhub-dev-pii" in aliases
    settings = Settings.from_env(env)
    assert settings.stage == "dev"
    assert settings.orders_table == "orderhub-dev-orders"
    assert settings.notifications_secret == "orderhub/dev/notifications"
    assert settings.event_bus == "orderhub-dev-inventory"


def test_the_amazon_health_probe_reads_its_stages_queue(aws):
    template = load_template(stage="dev")
    provision(template, aws.client, REGION, "dev")
    sqs = aws.client("sqs")
    probes = build_health_probes(FakeSecrets({}), None, sqs, None, stage="dev")  # type: ignore[arg-type]
    store = Store("amazon", "A1", "s")
    assert interpret(probes["amazon"].probe(store))[0] is Health.OK
    # the stage-less probe finds no queue of that name: it would fail in a named stage
    stageless = build_health_probes(FakeSecrets({}), None, sqs, None)  # type: ignore[arg-type]
    assert interpret(stageless["amazon"].probe(store))[0] is Health.FAILING
