"""`bin/orderhub keys issue|list` against moto (the first admin key: printed once, stored
hashed, usable at once), and the audit entries the CLI's privileged actions write: key issue,
DLQ replay, store save and secret rotation, with the OS user as actor and no secrets."""

from __future__ import annotations

import getpass
import json

import pytest

from chalicelib.deps import Container
from chalicelib.domain.audit import AuditQuery
from chalicelib.domain.auth import hash_api_key
from tests.fakes import FixedClock
from tools.orderhub import main


@pytest.fixture
def env(stack_env, aws, monkeypatch):
    for key, value in stack_env.items():
        monkeypatch.setenv(key, value)
    return Container(environ=stack_env)


def audit_entries(deps: Container, action: str):
    now = deps.now()
    query = AuditQuery(now.replace(year=now.year - 1), now.replace(year=now.year + 1))
    query = AuditQuery(query.start, query.end, action=action, limit=1000)
    return deps.audit_log.query(query).entries


def test_first_admin_key_is_printed_once_stored_hashed_and_works(env, capsys):
    assert main(["keys", "issue", "--owner", "root@example.com", "--role", "admin"]) == 0
    out = capsys.readouterr().out
    secret = out.split("key (shown once; OrderHub keeps only its hash): ")[1].strip()
    assert secret.startswith("oh_") and out.count(secret) == 1
    (key,) = env.api_keys.list_keys()
    assert (key.owner, key.role, key.created_by) == (
        "root@example.com",
        "admin",
        f"cli:{getpass.getuser()}",
    )
    assert key.key_hash == hash_api_key(secret)
    raw = json.dumps(env.catalog_store.get_api_key(hash_api_key(secret)))
    assert secret not in raw
    principal = env.authenticator.authenticate(f"Bearer {secret}", FixedClock()())
    assert principal.role == "admin"
    (entry,) = audit_entries(env, "api_key.issue")
    assert entry.actor.key_id == "cli" and entry.actor.owner == getpass.getuser()
    assert entry.target == f"api_key/{key.key_id}" and "orderhub-cli" in entry.user_agent
    assert secret not in json.dumps(entry.to_dict())

    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert key.key_id in listed and secret not in listed and "active" in listed


def test_issue_refuses_an_unknown_role_and_writes_nothing(env, capsys):
    assert main(["keys", "issue", "--owner", "x", "--role", "root"]) == 2
    assert "role must be one of" in capsys.readouterr().err
    assert env.api_keys.list_keys() == []
    assert audit_entries(env, "api_key.issue") == []


def test_dlq_replay_is_audited(env, aws, capsys):
    sqs = aws.client("sqs")
    dlq = env.settings.order_dlq_url
    event = {"event_key": "mall#s1#m1", "platform": "mall", "store": "s1", "order_id": "o1"}
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"event": event}))
    assert main(["dlq", "replay"]) == 0
    assert "replayed 1 messages" in capsys.readouterr().out
    (entry,) = audit_entries(env, "dlq.replay")
    assert entry.target == "dlq/orderhub-order-events-dlq"
    assert entry.after["count"] == 1
    assert entry.after["messages"][0]["event_key"] == "mall#s1#m1"


def test_store_save_and_secret_rotation_are_audited_without_secrets(env, tmp_path, capsys):
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"webhook_secret": "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}))
    args = ["--store", "mall/acme", "--timezone", "Asia/Shanghai", "--credentials", str(creds)]
    assert main(["stores", "add", *args]) == 0
    assert main(["stores", "add", *args, "--name", "Acme"]) == 0
    assert main(["secrets", "rotate", "--store", "mall/acme", "--generate"]) == 0
    out = capsys.readouterr().out
    new_secret = out.split("it is not shown again): ")[1].strip()
    saves = audit_entries(env, "store.save")
    assert [e.target for e in saves] == ["store/mall/acme"] * 2
    newest, first = saves
    assert first.before is None and newest.before["name"] == "" and newest.after["name"] == "Acme"
    (rotation,) = audit_entries(env, "store_secret.rotate")
    assert rotation.after["generated"] is True and rotation.after["previous_until"]
    text = json.dumps([e.to_dict() for e in [*saves, rotation]])
    assert "c2VjcmV0" not in text and new_secret not in text


def test_dlq_show_prints_the_last_failure_and_follows_an_overflow(env, aws, capsys):
    from datetime import UTC, datetime

    from chalicelib.adapters.messaging import MAX_INLINE_BYTES, SqsEventQueue

    key = "mall#s1#m2"
    event = {"event_key": key, "platform": "mall", "store": "s1", "order_id": "o2"}
    parked = SqsEventQueue(env.sqs, env.settings.order_dlq_url, env.s3, env.settings.raw_bucket)
    message_id = parked.send({"event": event, "raw": "x" * (MAX_INLINE_BYTES + 1)}, "mall#s1#o2")
    at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    env.trail.record_receipt(key, "mall", "s1", at, 5, message_id)
    env.trail.record_attempt(key, at, 5, error_class="TransientFailure", error="throttled")
    assert main(["dlq", "show", message_id]) == 0
    out = capsys.readouterr().out
    assert (
        "last failure: attempt 5 at 2026-11-25T08:00:00+00:00: TransientFailure: throttled" in out
    )
    assert "overflowed to S3" in out and '"event_key": "mall#s1#m2"' in out
    assert f"order o2  {key}" in out  # the summary names the event, not a bare pointer
