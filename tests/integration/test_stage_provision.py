"""A named stage provisioned on moto as the local stack does (ORDERHUB_STAGE=dev make run): every
resource carries the stage, and the functions' environment names them and the stage."""

from __future__ import annotations

from chalicelib.settings import Settings, resource_name
from local.provision import (
    LAMBDA_QUEUE_PREFIX,
    function_environment,
    load_template,
    provision,
)

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
