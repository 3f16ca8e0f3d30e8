"""Cold start guards (timings: bench/cold_start.py): app.py imports no adapter, and what each
function needs comes on first use (chalicelib/adapters/deferred.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from chalicelib import deps
from chalicelib.adapters.deferred import Deferred, deferred_imports
from tests.conftest import ROOT

# Heavy modules no handler needs before its first call (the webhook's come then).
NOT_AT_IMPORT = (
    "boto3",
    "pynamodb",
    "Crypto",
    "openpyxl",
    "jsonschema",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.batch",  # the SQS consumers' (chalicelib/api/sqs_batch.py)
    "aws_lambda_powertools.utilities.data_classes",
    "chalicelib.adapters.dynamo",
    "chalicelib.adapters.dynamo_models",
    "chalicelib.adapters.report_store",
)


def _loaded_after(code: str) -> set[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_importing_app_imports_no_adapter_nor_aws_library():
    loaded = _loaded_after("import app")
    assert "app" in loaded and "chalicelib.deps" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("pynamodb", "boto3", "Crypto")}
    assert not [m for m in NOT_AT_IMPORT if m in loaded]


def test_the_webhooks_adapters_come_with_its_first_use():
    loaded = _loaded_after(
        "from chalicelib import settings\nfrom chalicelib.deps import Container\n"
        "env = {name: 'x' for name in settings._REQUIRED.values()}\n"
        "Container({**env, 'AWS_REGION': 'us-east-1'}).catalog"
    )
    assert "pynamodb" in loaded and "chalicelib.adapters.dynamo_records" in loaded
    assert "openpyxl" not in loaded and "chalicelib.adapters.report_store" not in loaded


def test_every_deferred_name_of_deps_resolves_to_its_adapter():
    names = deferred_imports(deps.__file__)
    assert len(names) > 50 and "DynamoOrderRepository" in names
    for name, deferred in names.items():
        assert isinstance(deferred, Deferred)
        assert deferred.resolve().__name__ == name
        assert repr(getattr(deps, name)) == repr(deferred)  # what the container calls
