"""The operator CLI (`bin/orderhub`) against moto. `secrets rotate`: the stored secret rotates,
the webhook path verifies both secrets during the grace window, and nothing secret is printed
unless OrderHub generated it. `stores add|list`: checked before written. `amazon send`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.secrets import SecretsManagerStore
from chalicelib.channels.standard_webhooks import sign_standard_webhook
from chalicelib.channels.webhook import accept_webhook
from chalicelib.deps import Container
from chalicelib.domain.errors import InvalidSignature
from chalicelib.domain.ports import Store
from tests.builders import body, mall_payload
from tests.fakes import FakeQueue
from tools.orderhub import main

OLD = "whsec_b2xkLW9sZC1vbGQtb2xkLW9sZC1vbGQ="
NAME = "orderhub/stores/mall/s1"


@pytest.fixture
def env(stack_env, aws, monkeypatch):
    for key, value in stack_env.items():
        monkeypatch.setenv(key, value)
    aws.client("secretsmanager").create_secret(
        Name=NAME, SecretString=json.dumps({"webhook_secret": OLD})
    )
    deps = Container(environ=stack_env)
    deps.catalog_store.put_store(Store("mall", "s1", NAME))
    return deps


def deliver(deps: Container, secret: str, at: datetime):
    raw = body(mall_payload())
    msg = f"msg-{int(at.timestamp())}-{secret[-4:]}"
    headers = {
        "webhook-id": msg,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": sign_standard_webhook(secret, msg, at, raw),
    }
    store = SecretsManagerStore(deps._client("secretsmanager"))

    class Direct:  # read through, no cache: the test moves the clock, not the cache
        def get_secret(self, name):
            return store.read(name)

    return accept_webhook(
        "mall",
        "s1",
        headers,
        raw,
        deps.catalog_store,
        Direct(),
        FakeQueue(),
        at,
        vault=deps.personal_data,
    )


def test_generated_rotation_is_stored_printed_once_and_overlaps(env, capsys):
    assert main(["secrets", "rotate", "--store", "mall/s1", "--generate"]) == 0
    out = capsys.readouterr().out
    stored = SecretsManagerStore(env._client("secretsmanager")).read(NAME)
    new = stored["webhook_secret"]
    assert new.startswith("whsec_") and new != OLD and new in out
    assert OLD not in out  # the old secret is never printed
    assert stored["rotation"]["previous"] == {"webhook_secret": OLD}
    until = datetime.fromisoformat(stored["rotation"]["until"])
    now = datetime.now(UTC)
    assert timedelta(minutes=59) < until - now <= timedelta(minutes=60)
    assert deliver(env, OLD, now).event_keys
    assert deliver(env, new, now).event_keys
    with pytest.raises(InvalidSignature):
        deliver(env, OLD, until + timedelta(seconds=1))


def test_platform_issued_secret_is_not_echoed(env, capsys):
    assert (
        main(
            [
                "secrets",
                "rotate",
                "--store",
                "mall/s1",
                "--secret",
                "whsec_bmV3IQ==",
                "--grace-minutes",
                "0",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "whsec_bmV3IQ==" not in out and "void" in out
    stored = SecretsManagerStore(env._client("secretsmanager")).read(NAME)
    assert stored.pop("secret_set_at")  # its age, for the quarterly reminder
    assert stored == {"webhook_secret": "whsec_bmV3IQ=="}


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--store", "mall/nope", "--generate"], 1, "no store mall/nope"),
        (["--store", "mall", "--generate"], 2, "platform/store"),
        (["--store", "mall/s1", "--secret", OLD], 2, "in use"),
    ],
)
def test_bad_requests_say_why_and_change_nothing(env, capsys, args, code, words):
    assert main(["secrets", "rotate", *args]) == code
    assert words in capsys.readouterr().err
    assert SecretsManagerStore(env._client("secretsmanager")).read(NAME) == {"webhook_secret": OLD}


def test_stores_add_writes_secret_and_catalog_then_lists(env, tmp_path, capsys):
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"webhook_secret": "shpss_abc"}))
    args = ["--store", "shopify/acme", "--timezone", "America/New_York", "--credentials"]
    assert main(["stores", "add", *args, str(creds), "--rules", '{"allow_split": true}']) == 0
    out = capsys.readouterr().out
    assert "webhooks/shopify/acme" in out and "shpss_abc" not in out
    store = env.catalog_store.get_store("shopify", "acme")
    assert store.timezone == "America/New_York" and store.rules.allow_split
    stored = SecretsManagerStore(env._client("secretsmanager")).read(store.secret_name)
    assert stored.pop("secret_set_at")  # its age, for the quarterly reminder
    assert stored == {"webhook_secret": "shpss_abc"}
    # again with a new secret: updated, not duplicated
    creds.write_text(json.dumps({"webhook_secret": "shpss_new"}))
    assert main(["stores", "add", *args, str(creds)]) == 0
    stored = SecretsManagerStore(env._client("secretsmanager")).read(store.secret_name)
    assert stored.pop("secret_set_at") and stored == {"webhook_secret": "shpss_new"}
    capsys.readouterr()
    assert main(["stores", "list"]) == 0
    assert "shopify/acme\tAmerica/New_York" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("store", "zone", "creds", "rules", "words"),
    [
        ("ebay/x", "UTC", {"a": 1}, "{}", "not supported"),
        ("shopify/a b", "UTC", {"webhook_secret": "s"}, "{}", "store id must be"),
        ("shopify/a", "Mars/Base", {"webhook_secret": "s"}, "{}", "timezone"),
        ("shopify/a", "UTC", {"app_key": "k"}, "{}", "credentials: the store's credentials lack"),
        ("shopify/a", "UTC", {"webhook_secret": "s"}, '{"split": 1}', "unknown rules: split"),
        ("tiktok/a", "UTC", {"app_key": "k"}, "{}", "app_secret"),
    ],
)
def test_stores_add_refuses_bad_input_and_writes_nothing(
    env, tmp_path, capsys, store, zone, creds, rules, words
):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(creds))
    code = main(
        [
            "stores",
            "add",
            "--store",
            store,
            "--timezone",
            zone,
            "--credentials",
            str(path),
            "--rules",
            rules,
        ]
    )
    assert code == 2 and words in capsys.readouterr().err
    platform, _, store_id = store.partition("/")
    assert env.catalog_store.get_store(platform, store_id) is None


def test_amazon_send_puts_the_file_on_our_amazon_queue(env, tmp_path, capsys):
    notification = tmp_path / "n.json"
    notification.write_text(json.dumps({"NotificationType": "ORDER_CHANGE"}))
    assert main(["amazon", "send", str(notification)]) == 0
    assert "sent to orderhub-amazon-notifications" in capsys.readouterr().out
    sqs = env._client("sqs")
    url = sqs.get_queue_url(QueueName="orderhub-amazon-notifications")["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"]) == {"NotificationType": "ORDER_CHANGE"}
    notification.write_text("not json")
    assert main(["amazon", "send", str(notification)]) == 2


def test_stores_enable_re_enables_a_store_the_review_disabled(env, capsys):
    from dataclasses import replace

    store = env.catalog_store.get_store("mall", "s1")
    env.catalog_store.put_store(replace(store, disabled=True, disabled_reason="unused for 90 days"))
    assert main(["stores", "list"]) == 0
    assert "mall/s1\tUTC\t\tdisabled (unused for 90 days)" in capsys.readouterr().out
    with pytest.raises(Exception, match="disabled"):
        deliver(env, OLD, datetime.now(UTC))
    assert main(["stores", "enable", "mall/s1"]) == 0
    assert not env.catalog_store.get_store("mall", "s1").disabled
    assert deliver(env, OLD, datetime.now(UTC)).event_keys  # accepted again
    assert main(["stores", "enable", "mall/nope"]) == 2


def test_the_secret_age_comes_from_secrets_manager_when_not_stamped(env):
    changed = SecretsManagerStore(env._client("secretsmanager")).changed_at(NAME)
    assert changed is not None and abs((datetime.now(UTC) - changed).total_seconds()) < 600
