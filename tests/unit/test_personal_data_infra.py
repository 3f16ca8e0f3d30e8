"""The personal-data key as infra/resources.json and .chalice/policy.json define it: symmetric,
rotated, retained, aliased, in every function's environment, and usable by the functions only
for data keys bound to an order (the `order_key` encryption context)."""

from __future__ import annotations

import json

from chalicelib.settings import _REQUIRED
from local.provision import load_template
from tests.conftest import ROOT

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
POLICY = json.loads((ROOT / ".chalice" / "policy.json").read_text())


def test_the_key_is_symmetric_rotated_and_retained():
    key = RESOURCES["PiiKey"]
    props = key["Properties"]
    assert key["Type"] == "AWS::KMS::Key"
    assert (props["KeySpec"], props["KeyUsage"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    assert props["EnableKeyRotation"] is True and props["Enabled"] is True
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"


def test_the_key_policy_lets_the_account_administer_and_the_functions_use_it_per_order():
    statements = {s["Sid"]: s for s in RESOURCES["PiiKey"]["Properties"]["KeyPolicy"]["Statement"]}
    root = statements["AccountAdministersTheKey"]
    assert root["Principal"]["AWS"]["Fn::Sub"].endswith(":iam::${AWS::AccountId}:root")
    functions = statements["FunctionsSealAndOpenPerOrder"]
    assert functions["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    condition = functions["Condition"]
    assert condition["StringEquals"]["kms:CallerAccount"] == {"Ref": "AWS::AccountId"}
    assert condition["ArnLike"]["aws:PrincipalArn"]["Fn::Sub"].endswith(":role/${AWS::StackName}-*")
    assert condition["ForAnyValue:StringEquals"] == {"kms:EncryptionContextKeys": ["order_key"]}


def test_the_alias_names_the_key_and_the_functions_get_its_arn():
    alias = RESOURCES["PiiKeyAlias"]
    assert alias["Type"] == "AWS::KMS::Alias"
    assert alias["Properties"] == {
        "AliasName": "alias/orderhub-pii",
        "TargetKeyId": {"Ref": "PiiKey"},
    }
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert _REQUIRED["pii_key_id"] == "ORDERHUB_PII_KEY_ID"
    assert variables["ORDERHUB_PII_KEY_ID"] == {"Fn::GetAtt": ["PiiKey", "Arn"]}


def test_the_functions_may_only_make_and_open_data_keys_bound_to_an_order():
    (statement,) = [s for s in POLICY["Statement"] if s.get("Sid") == "PersonalDataKey"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert statement["Resource"] == "arn:*:kms:*:*:key/*"
    assert statement["Condition"] == {
        "ForAnyValue:StringEquals": {
            # the stage's key, and the key before a migration (docs/deploy.md: the previous
            # alias is created by hand, pointing at the old key, so old sealed data opens)
            "kms:ResourceAliases": ["alias/orderhub-pii", "alias/orderhub-pii-previous"],
            "kms:EncryptionContextKeys": "order_key",
        }
    }
    others = [s for s in POLICY["Statement"] if s.get("Sid") != "PersonalDataKey"]
    assert not any("kms:" in json.dumps(s.get("Action")) for s in others)
