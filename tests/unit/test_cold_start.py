"""Cold start guards (timings: bench/cold_start.py): app.py imports no adapter, and what each
function needs comes on first use (chalicelib/adapters/deferred.py)."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

from chalicelib import deps
from chalicelib.adapters.deferred import Deferred, DeferredModule, deferred_imports
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
    # other routes' domain modules: the API function loads them with their route's first call
    "chalicelib.domain.timeline",
    "chalicelib.domain.timeline_activity",
    "chalicelib.domain.daily_reports",
    "chalicelib.domain.monthly_review",
    "chalicelib.domain.reports",
    "chalicelib.domain.board",
    "chalicelib.domain.order_search",
    "chalicelib.domain.stock_list",
    "chalicelib.domain.processing",  # booking: the processor's, the stock and order actions'
    "chalicelib.domain.stock_ops",
    "chalicelib.domain.booking",
    "chalicelib.domain.staged",
    "chalicelib.domain.ledger_audit",
    "chalicelib.domain.dlq",
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


def test_the_routes_deferred_domain_names_resolve_to_what_they_name():
    from chalicelib.api import (
        console_api,
        operations,
        order_actions,
        processor,
        reports,
        stock,
        timeline,
    )

    for module in (timeline, reports, processor, operations, order_actions, stock):
        names = deferred_imports(module.__file__, "chalicelib.domain")
        assert names
        for name, deferred in names.items():
            assert repr(getattr(module, name)) == repr(deferred)
            assert deferred.resolve().__name__ == name
    for name in ("board", "order_search", "stock_list"):
        stand_in = getattr(console_api, name)
        assert isinstance(stand_in, DeferredModule)
        real = importlib.import_module(f"chalicelib.domain.{name}")
        public = [a for a in vars(real) if not a.startswith("_")]
        assert public and all(getattr(stand_in, a) is getattr(real, a) for a in public)


def _imports_by_full_parse(path: Path, package: str) -> dict[str, str]:
    names = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith(
                    package
                ):
                    for alias in statement.names:
                        names[alias.asname or alias.name] = f"{statement.module}.{alias.name}"
    return names


def test_deferred_imports_reads_the_type_checking_blocks_as_a_full_parse_would():
    files = sorted((ROOT / "chalicelib").rglob("*.py"))
    found = 0
    for path in files:
        for package in ("chalicelib.adapters", "chalicelib.domain", "aws_lambda_powertools"):
            expected = _imports_by_full_parse(path, package)
            got = {
                n: f"{d._module}.{d._name}" for n, d in deferred_imports(str(path), package).items()
            }
            assert got == expected, path
            found += len(got)
    assert found > 100


def _gc_after(code: str) -> dict[str, int]:
    """The collector after `import app`, and the young collections that import ran (chalice
    imported before: what app.py loads ahead of the pause)."""
    young = "gc.get_stats()[0]['collections']"
    probe = (
        f"import gc, json, logging, chalice\n{code}\nbefore = {young}\nimport app\n"
        "print(json.dumps({'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count(),"
        f" 'young': {young} - before}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_the_collector_pauses_while_app_loads_and_resumes_with_the_app_frozen():
    after = _gc_after("")
    assert after["enabled"] and after["young"] <= 1  # unpaused: dozens
    assert after["frozen"] > 20_000  # modules, classes, functions: out of the collector's way
    assert not _gc_after("gc.disable()")["enabled"]  # a collector off before stays off
