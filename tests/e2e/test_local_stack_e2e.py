"""The foundation's promise, over HTTP against the running local stack: a signed order is
booked once, shown, reflected in stock; redelivery books nothing; bad input changes nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
import requests

from local.provision import condition_holds, load_template
from tests.builders import mall_payload
from tests.conftest import ROOT
from tests.e2e.conftest import SEED, start_stack

pytestmark = pytest.mark.e2e

SKU = "TEA-LONGJING-250G"


def line(quantity=1):
    return [{"sku": SKU, "quantity": quantity, "unit_price": "88.00"}]


def total(stack):
    return stack.get(f"/inventory/{SKU}").json()["total"]


def test_health_reports_every_dependency_up(stack):
    body = stack.get("/health").json()
    assert body == {"status": "ok", "checks": {"dynamodb": "ok", "sqs": "ok"}}


def test_signed_order_is_booked_shown_and_reflected_in_stock(stack):
    before = total(stack)
    response = stack.post_order(mall_payload("E2E-1", lines=line(2)), "msg_e2e_1")
    assert response.status_code == 202, response.text
    order = stack.wait_for_order("E2E-1")
    assert order["booking"] == "reserved" and order["status"] == "unpaid"
    assert order["holds"] == [
        {"sku": SKU, "warehouse": "wh-shanghai", "reserved": 2, "locked": 0, "shipped": 0}
    ]
    after = total(stack)
    assert after["reserved"] == before["reserved"] + 2
    assert after["available"] == before["available"] - 2
    assert after["available"] == after["on_hand"] - after["locked"] - after["reserved"]


def test_same_webhook_again_books_nothing_more(stack):
    payload = mall_payload("E2E-2", lines=line(1))
    assert stack.post_order(payload, "msg_e2e_2").status_code == 202
    stack.wait_for_order("E2E-2")
    booked = total(stack)
    assert stack.post_order(payload, "msg_e2e_2").status_code == 202
    stack.wait_for_empty_queue()
    assert total(stack) == booked
    assert stack.get("/orders/mall/demo-shop/E2E-2").json()["version"] == 1


def test_payment_then_cancel_moves_stock_back(stack):
    before = total(stack)
    stack.post_order(mall_payload("E2E-3", lines=line(3)), "msg_e2e_3a")
    stack.wait_for_order("E2E-3")
    stack.post_order(
        mall_payload("E2E-3", status="paid", updated_at="2026-11-25T16:05:00+08:00", lines=line(3)),
        "msg_e2e_3b",
    )
    assert stack.wait_for_order("E2E-3", version=2)["booking"] == "locked"
    assert total(stack)["locked"] == before["locked"] + 3
    stack.post_order(
        mall_payload(
            "E2E-3", status="cancelled", updated_at="2026-11-25T16:09:00+08:00", lines=line(3)
        ),
        "msg_e2e_3c",
    )
    assert stack.wait_for_order("E2E-3", version=3)["booking"] == "released"
    assert total(stack) == before


def test_tampered_and_bad_requests_are_refused_and_queue_nothing(stack):
    before = total(stack)
    tampered = stack.post_order(mall_payload("E2E-4", lines=line(1)), "msg_e2e_4", tamper=True)
    assert tampered.status_code == 401 and tampered.json()["error"] == "invalid_signature"
    wrong_secret = stack.post_order(mall_payload("E2E-4"), "msg_e2e_4b", secret="whsec_" + "B" * 32)
    assert wrong_secret.status_code == 401
    broken = mall_payload("E2E-4")
    del broken["data"]["order_id"]
    invalid = stack.post_order(broken, "msg_e2e_4c")
    assert invalid.status_code == 400 and "order_id" in invalid.json()["message"]
    stack.wait_for_empty_queue()
    assert total(stack) == before
    assert stack.get("/orders/mall/demo-shop/E2E-4").status_code == 404


def test_read_endpoints_refuse_missing_key(stack):
    response = requests.get(f"{stack.api}/inventory/{SKU}", timeout=10)
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"


def test_every_infra_resource_exists_locally_as_defined(stack):
    """The local stack's resources come from infra/resources.json: same keys, indexes, TTL,
    redrive."""
    ddb, sqs, s3 = stack.client("dynamodb"), stack.client("sqs"), stack.client("s3")
    template = load_template()
    resources = template["Resources"]
    # not those the parameters' defaults leave out (the egress VPC: AWS only, off by default)
    typed = {
        name: r
        for name, r in resources.items()
        if "Type" in r and condition_holds(template, r.get("Condition"))
    }
    assert typed, "infra defines no resources"
    for name, resource in typed.items():
        props = resource["Properties"]
        if resource["Type"] == "AWS::DynamoDB::Table":
            table = ddb.describe_table(TableName=props["TableName"])["Table"]
            assert table["KeySchema"] == props["KeySchema"], name
            assert sorted(table["AttributeDefinitions"], key=str) == sorted(
                props["AttributeDefinitions"], key=str
            ), name
            want_gsi = {g["IndexName"] for g in props.get("GlobalSecondaryIndexes", [])}
            assert {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])} == want_gsi
            ttl = ddb.describe_time_to_live(TableName=props["TableName"])["TimeToLiveDescription"]
            if "TimeToLiveSpecification" in props:
                assert ttl["TimeToLiveStatus"] == "ENABLED", name
                assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]
            else:
                assert ttl["TimeToLiveStatus"] == "DISABLED", name
        elif resource["Type"] == "AWS::SQS::Queue":
            url = sqs.get_queue_url(QueueName=props["QueueName"])["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
                if key in props:
                    assert attrs[key] == str(props[key]), (name, key)
            if "RedrivePolicy" in props:
                redrive = json.loads(attrs["RedrivePolicy"])
                assert int(redrive["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"]
                dlq = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
                assert redrive["deadLetterTargetArn"].endswith(
                    ":" + resources[dlq]["Properties"]["QueueName"]
                )
        elif resource["Type"] == "AWS::S3::Bucket":
            names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
            assert any(n.startswith("orderhub-raw-payloads-") for n in names), name
        elif resource["Type"] == "AWS::Events::EventBus":
            bus = stack.client("events").describe_event_bus(Name=props["Name"])
            assert bus["Name"] == props["Name"] and bus["Arn"].endswith(f"/{props['Name']}")
        elif resource["Type"] == "AWS::CloudWatch::Alarm":
            (alarm,) = stack.client("cloudwatch").describe_alarms(AlarmNames=[props["AlarmName"]])[
                "MetricAlarms"
            ]
            for key in (
                "Namespace",
                "MetricName",
                "Statistic",
                "ExtendedStatistic",  # percentile alarms (p50 sync latency) have no Statistic
                "Period",
                "EvaluationPeriods",
                "DatapointsToAlarm",
                "ComparisonOperator",
                "TreatMissingData",
            ):
                if key in props:
                    assert alarm[key] == props[key], (name, key)
            assert alarm["Threshold"] == float(props["Threshold"]), name
            for key in ("AlarmActions", "OKActions"):  # the topic's ARN, as Ref gives it
                topics = [resources[a["Ref"]]["Properties"]["TopicName"] for a in props[key]]
                assert [a.rsplit(":", 1)[-1] for a in alarm[key]] == topics, (name, key)
        elif resource["Type"] == "AWS::CloudWatch::Dashboard":  # stored locally, not rendered
            got = stack.client("cloudwatch").get_dashboard(DashboardName=props["DashboardName"])
            widgets = json.loads(got["DashboardBody"])["widgets"]
            assert len(widgets) == len(json.loads(props["DashboardBody"]["Fn::Sub"])["widgets"])
        elif resource["Type"] == "AWS::SQS::QueuePolicy":  # stored locally, not enforced
            for queue in props["Queues"]:
                queue_name = resources[queue["Ref"]]["Properties"]["QueueName"]
                url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
                attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
                stored = json.loads(attrs["Attributes"]["Policy"])["Statement"]
                want = props["PolicyDocument"]["Statement"]
                assert [(s["Effect"], s["Principal"], s["Action"]) for s in stored] == [
                    (s["Effect"], s["Principal"], s["Action"]) for s in want
                ], name
        elif resource["Type"] == "AWS::SNS::Topic":
            sns = stack.client("sns")
            arn = f"arn:aws:sns:us-east-1:123456789012:{props['TopicName']}"
            attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
            assert attrs.get("DisplayName", "") == props.get("DisplayName", ""), name
        elif resource["Type"] == "AWS::KMS::Key":  # found by its description
            kms = stack.client("kms")
            metas = [
                kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]
            ]
            (meta,) = [m for m in metas if m.get("Description") == props["Description"]]
            assert (meta["KeySpec"], meta["KeyUsage"]) == (props["KeySpec"], props["KeyUsage"])
            rotation = kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"]
            assert rotation is bool(props.get("EnableKeyRotation")), name
            policy = json.loads(
                kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"]
            )
            assert [s["Sid"] for s in policy["Statement"]] == [
                s["Sid"] for s in props["KeyPolicy"]["Statement"]
            ], name
        elif resource["Type"] == "AWS::KMS::Alias":
            target = resources[props["TargetKeyId"]["Ref"]]["Properties"]["Description"]
            meta = stack.client("kms").describe_key(KeyId=props["AliasName"])["KeyMetadata"]
            assert meta["Description"] == target, name
        elif resource["Type"] == "AWS::ApiGateway::GatewayResponse":  # served by chalice local
            if props["ResponseType"] == "MISSING_AUTHENTICATION_TOKEN":
                answer = requests.get(f"{stack.api}/not/a/route", timeout=10)
                assert answer.status_code == int(props["StatusCode"]), name
                assert set(answer.json()) == {"error", "message"}, name
        elif resource["Type"] == "AWS::SNS::Subscription":  # lambda: a queue the stack reads
            topic = resources[props["TopicArn"]["Ref"]]["Properties"]["TopicName"]
            arn = f"arn:aws:sns:us-east-1:123456789012:{topic}"
            subscribed = stack.client("sns").list_subscriptions_by_topic(TopicArn=arn)
            function = props["Endpoint"]["Fn::GetAtt"][0]
            endpoints = [s["Endpoint"] for s in subscribed["Subscriptions"]]
            assert any(f":local-lambda-{function}-{topic}" in e for e in endpoints), name
        elif resource["Type"] == "AWS::Lambda::Permission":  # nothing to create locally
            assert props["Principal"] == "sns.amazonaws.com", name
        elif resource["Type"] == "AWS::SecretsManager::Secret":  # generated as AWS would
            value = stack.client("secretsmanager").get_secret_value(SecretId=props["Name"])
            generate = props["GenerateSecretString"]
            generated = json.loads(value["SecretString"])[generate["GenerateStringKey"]]
            assert len(generated) == generate["PasswordLength"], name
        else:
            raise AssertionError(f"{name}: no parity check for {resource['Type']}")


def test_scheduled_job_runs_on_demand_against_the_stack(stack):
    depths = run_job(stack, "publish_queue_metrics")
    assert set(depths) == {"orders", "orders_dlq"}


def test_unknown_job_is_refused_with_the_list(stack):
    env = dict(os.environ, ORDERHUB_STATE_FILE=str(stack.state_file))
    done = subprocess.run(
        [sys.executable, "-m", "local.job", "nope"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "publish_queue_metrics" in done.stderr


def test_ctrl_c_stops_every_part(tmp_path):
    other = start_stack(tmp_path)
    state = json.loads(other.state_file.read_text())
    pids = state["children"]
    other.process.send_signal(signal.SIGINT)
    assert other.process.wait(timeout=30) == 0
    time.sleep(0.5)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not other.state_file.exists()
    port = int(other.api.rsplit(":", 1)[1])
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not a listener
        s.bind(("127.0.0.1", port))


def run_job(stack, name):
    return stack.run_job(name)


def test_paid_order_ships_through_the_wms_and_counts_adjust(stack):
    before = total(stack)
    stack.post_order(mall_payload("E2E-5", status="paid", lines=line(2)), "msg_e2e_5")
    assert stack.wait_for_order("E2E-5")["booking"] == "locked"
    confirmation = {
        "confirmation_id": "wms-e2e-5",
        "platform": "mall",
        "store": "demo-shop",
        "order_id": "E2E-5",
        "lines": [{"sku": SKU, "quantity": 2}],
    }
    shipped = requests.post(
        f"{stack.api}/wms/outbound-confirmations", json=confirmation, headers=stack.auth, timeout=10
    )
    assert shipped.status_code == 200 and shipped.json()["order"]["booking"] == "shipped"
    after = total(stack)
    assert after["on_hand"] == before["on_hand"] - 2 and after["locked"] == before["locked"]
    assert stack.receive(SKU, "e2e-receipt-1", 10, "PO e2e").status_code == 200
    assert total(stack)["on_hand"] == after["on_hand"] + 10


GIFT = "GIFT-BOX-NY"  # seed: 5 in wh-guangzhou, safety stock 2; two mall stores


def stub_call(stack, path, body=None):
    if body is None:
        return requests.get(f"{stack.stub}{path}", timeout=10).json()
    return requests.post(f"{stack.stub}{path}", json=body, timeout=10).json()


def tapped_events(stack, sku):
    """LimitedSale events so far, through the local tap queue on the inventory bus."""
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="orderhub-inventory-tap")["QueueUrl"]
    found = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return found
        for message in got:
            body = json.loads(message["Body"])
            if body["detail"].get("sku") == sku:
                found.append(body)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def nudges_settled(stack, timeout=30):
    """The stock nudges queued so far all handled (none waiting, none in flight)."""
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="orderhub-stock-nudges.fifo")["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        if sum(int(v) for v in attrs.values()) == 0:
            return
        time.sleep(0.2)
    raise AssertionError("stock nudges did not settle")


def pushed(stack):
    """Each (channel, quantity) told so far, once: pushes are absolute, and a nudge's retry
    still in flight may repeat one the sweeper also delivers, harmlessly."""
    return sorted(
        {
            ((p["platform"], p["store"]), p["quantity"])
            for p in stub_call(stack, f"/_stub/pushes?sku={GIFT}")
        }
    )


# Every seeded store is a channel. The gift box keeps 1 unit back for the own shop (`mall`),
# so those channels come first in a limited sale and may sell 1 more than the others.
CHANNELS = sorted(
    ((s["platform"], s["store_id"]) for s in SEED["stores"]), key=lambda c: (c[0] != "mall", c)
)


def test_limited_sale_pushes_reduced_stock_to_every_store_and_lifts(stack):
    """A burst crosses the safety stock: one push per store, each its share of what is left,
    and a LimitedSale event; a receipt lifts it. The stub refuses pushes during the burst, so
    a scheduled run firing meanwhile cannot push early: it only leaves the SKU pending."""
    stub_call(stack, "/_stub/reset", {})
    stub_call(stack, "/_stub/fail", {"status": 503, "count": None})
    gift = [{"sku": GIFT, "quantity": 1, "unit_price": "168.00"}]
    for i in range(3):
        stack.post_order(mall_payload(f"E2E-LS-{i}", lines=gift), f"msg_e2e_ls_{i}")
    for i in range(3):
        assert stack.wait_for_order(f"E2E-LS-{i}")["booking"] == "reserved"
    assert stack.get(f"/inventory/{GIFT}").json()["total"]["available"] == 2
    # the bookings' nudges try (and fail) first; the sweeper run then finds the SKU pending
    nudges_settled(stack)
    refused = run_job(stack, "push_stock")
    assert any(line.startswith(f"{GIFT} -> ") for line in refused["retry_later"])
    assert GIFT in refused["still_pending"] and pushed(stack) == []

    nudges_settled(stack)  # no nudge still retrying when the channels come back
    stub_call(stack, "/_stub/fail", {"count": 0})
    run_job(stack, "push_stock")
    # 2 left: one unit each to the first two channels, 0 to the others
    shares = [(c, 1 if i < 2 else 0) for i, c in enumerate(CHANNELS)]
    assert pushed(stack) == sorted(shares)
    (limited,) = [e for e in tapped_events(stack, GIFT) if e["detail-type"] == "LimitedSale"]
    assert limited["source"] == "orderhub.inventory"
    assert limited["detail"]["available"] == 2 and limited["detail"]["safety_stock"] == 2

    assert stack.receive(GIFT, "e2e-ls-receipt", 10, "restock").status_code == 200
    # the receipt nudges the pusher: every channel hears within seconds, no sweeper run needed
    lifted = [(c, 12 if c[0] == "mall" else 11) for c in CHANNELS]
    deadline = time.monotonic() + 10
    while pushed(stack) != sorted(shares + lifted) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pushed(stack) == sorted(shares + lifted)
    events: list[str] = []  # published by the nudge's run right after its last push
    while not events and time.monotonic() < deadline:
        events += [e["detail-type"] for e in tapped_events(stack, GIFT)]
        time.sleep(0.1)
    time.sleep(1)
    events += [e["detail-type"] for e in tapped_events(stack, GIFT)]
    assert events == ["LimitedSaleLifted"]


def test_nightly_audit_finds_no_drift_after_all_of_the_above(stack):
    stack.wait_for_empty_queue()
    assert run_job(stack, "audit_inventory")["drifting_items"] == 0


def test_reservation_expiry_job_runs(stack):
    assert run_job(stack, "release_expired_reservations") == {"due": 0, "released": 0}


def test_parked_event_is_listed_replayed_and_booked_once(stack):
    """An event parked in the DLQ (its cause fixed) goes back with `orderhub dlq replay` and is
    booked once; replaying the same message again books nothing more."""
    sqs = stack.client("sqs")
    dlq = sqs.get_queue_url(QueueName="orderhub-order-events-dlq")["QueueUrl"]
    parked = mall_payload("E2E-DLQ", lines=line(1))
    raw = json.dumps(parked)
    from chalicelib.channels.mall import parse_mall_payload
    from chalicelib.domain.ports import Store

    event = parse_mall_payload(
        raw.encode(), Store("mall", "demo-shop", ""), "msg_e2e_dlq", datetime.now(UTC)
    )
    message = json.dumps({"event": event.to_dict(), "raw": raw})
    sqs.send_message(QueueUrl=dlq, MessageBody=message)
    sqs.send_message(QueueUrl=dlq, MessageBody=message)  # parked twice, as a retry storm would
    before = total(stack)
    env = dict(os.environ, ORDERHUB_STATE_FILE=str(stack.state_file))
    env.pop("ORDERHUB_ORDER_QUEUE_URL", None)
    env.pop("ORDERHUB_ORDER_DLQ_URL", None)

    def orderhub(*args):
        done = subprocess.run(
            [str(ROOT / "bin" / "orderhub"), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    status = requests.get(f"{stack.api}/ops/dlq", headers=stack.auth, timeout=10).json()
    assert status["depth"] == 2 and status["oldest_age_seconds"] is not None
    assert "2 of 2 messages parked" in orderhub("dlq", "list", "--store", "mall/demo-shop")
    assert "0 of 2 messages would be replayed" in orderhub(
        "dlq", "replay", "--dry-run", "--store", "other-shop"
    )
    assert "replayed 2 messages" in orderhub("dlq", "replay")
    order = stack.wait_for_order("E2E-DLQ")
    stack.wait_for_empty_queue()
    assert order["booking"] == "reserved" and order["version"] == 1
    assert total(stack)["reserved"] == before["reserved"] + 1
    assert requests.get(f"{stack.api}/ops/dlq", headers=stack.auth, timeout=10).json()["depth"] == 0


def test_accepted_events_are_all_settled_and_conservation_says_so(stack):
    """A few signed orders booked; today's conservation balances (nothing parked, nothing lost)
    on the endpoint and in `bin/orderhub conservation`, with the same numbers."""
    for i in range(3):
        payload = mall_payload(f"E2E-CONS-{i}", lines=line(1))
        assert stack.post_order(payload, f"msg_e2e_cons_{i}").status_code == 202
    for i in range(3):
        stack.wait_for_order(f"E2E-CONS-{i}")
    stack.wait_for_empty_queue()
    today = datetime.now(UTC).date().isoformat()
    report = stack.get(f"/ops/conservation?date={today}").json()
    assert report["difference"] is False
    (mine,) = [s for s in report["stores"] if (s["platform"], s["store"]) == ("mall", "demo-shop")]
    assert mine["accepted"] >= 3 and mine["accepted"] == mine["settled"]
    assert mine["in_dlq"] == 0 and mine["in_flight"] == 0 and mine["lost"] == 0
    assert stack.get("/ops/conservation?date=someday").status_code == 400

    env = dict(os.environ, ORDERHUB_STATE_FILE=str(stack.state_file))
    env.pop("ORDERHUB_ORDER_QUEUE_URL", None)
    env.pop("ORDERHUB_ORDER_DLQ_URL", None)
    done = subprocess.run(
        [
            str(ROOT / "bin" / "orderhub"),
            "conservation",
            "--date",
            today,
            "--store",
            "mall/demo-shop",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"{today}  mall/demo-shop  accepted {mine['accepted']} = booked {mine['booked']} "
        f"+ rejected {mine['rejected']} + held {mine['held']} + settled without change "
        f"{mine['settled_without_change']} + in DLQ 0 + in flight 0" in done.stdout
    ), done.stdout
    assert "1 stores, 0 with a difference" in done.stdout


def test_unknown_route_wrong_method_and_wrong_type_answer_in_our_shape(stack):
    """What API Gateway and Chalice answer before a view runs comes as {error, message} too:
    the unknown route from the template's gateway response, as in AWS."""
    unknown = requests.get(f"{stack.api}/no/such/route", headers=stack.auth, timeout=10)
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"] == "not_found"
    assert "/no/such/route" in unknown.json()["message"]
    wrong_method = requests.delete(f"{stack.api}/inventory/{SKU}", headers=stack.auth, timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"
    form = requests.post(
        f"{stack.api}/inventory/{SKU}/adjustments", data={"x": "1"}, headers=stack.auth, timeout=10
    )
    assert form.status_code == 415, form.text
    assert set(form.json()) == {"error", "message"}
