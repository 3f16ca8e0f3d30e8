"""Fuzz the API from its own description (GET /openapi.json) with schemathesis, over HTTP.

Target: the local stack (`chalice local` on the emulator), the real thing: API-Gateway-style
routing, the middleware, the handlers and every adapter against emulated AWS. (Schemathesis
calls ASGI/WSGI apps in process; Chalice is neither, so an in-process run would need an
adapter of our own and would skip the HTTP layer.)

Every operation is driven with generated requests in both modes: positive (valid by the
schema) and negative (violating it). Protected operations get a throwaway admin key (never
the seed's dev key, which the other e2e tests use); a share of cases also go out with no
key or an unknown one. Checks on every answer:
- no 5xx;
- every error (4xx) is `{"error": <str>, "message": <str>}` and nothing else;
- the status is one the document lists for the operation, and a documented JSON answer fits
  its schema (schemathesis' own conformance checks);
- nothing is queued: the emulator's `sqs.SendMessage` count is the same after the run.

State-changing routes are fuzzed, with their effects confined (`confine`): stock
adjustments go to one throwaway stock item (`FUZZ-SKU` @ `wh-guangzhou`: a receipt to a random
SKU would create stock items the stock pusher then works through, ahead of the SKUs other
tests wait for); issued API keys get an owner marked `fuzz-` and a year's expiry (a short
one would make the daily key review warn), and `revoke_fuzz_keys` disables them afterwards.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

FUZZ_SKU = "FUZZ-SKU"
FUZZ_WAREHOUSE = "wh-guangzhou"  # a seeded warehouse: stock goes only into known ones
FUZZ_OWNER = "fuzz-"
UNKNOWN_KEY = "oh_not_a_key_of_anyone_at_all_0000000000000000"
WEBHOOK = "/webhooks/{platform}/{store}"
WEBHOOK_WEIGHT = 4  # webhooks get this many times the examples: they face the internet


@dataclass
class FuzzRun:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_status.items()))
        return f"{self.requests} requests in {self.seconds:.1f} s ({statuses})"


def send_message_count(aws: str) -> int:
    counts = requests.get(f"{aws}/_orderhub/requests", timeout=10).json()
    return int(counts["by_operation"].get("sqs.SendMessage", 0))


def issue_throwaway_admin(api: str, admin: dict[str, str]) -> dict[str, Any]:
    response = requests.post(
        f"{api}/admin/api-keys",
        json={"owner": f"{FUZZ_OWNER}admin", "role": "admin", "expires_in_days": 1},
        headers=admin,
        timeout=10,
    )
    response.raise_for_status()
    return dict(response.json())


def revoke_fuzz_keys(api: str, admin: dict[str, str]) -> int:
    """Disable every key the fuzz issued (owners marked `fuzz-`), the throwaway admin too."""
    keys = requests.get(f"{api}/admin/api-keys", headers=admin, timeout=10).json()["keys"]
    revoked = 0
    for key in keys:
        if str(key["owner"]).startswith(FUZZ_OWNER) and not key["disabled"]:
            requests.post(
                f"{api}/admin/api-keys/{key['key_id']}/revoke",
                json={"reason": "fuzz run over"},
                headers=admin,
                timeout=10,
            ).raise_for_status()
            revoked += 1
    return revoked


def steer(case: Any, stores: dict[str, str], turn: int) -> None:
    """Every other webhook goes to a store that exists (the platform's seeded one), so
    generated deliveries reach signature verification rather than stop at 404."""
    if (case.operation.method.upper(), case.operation.path) != ("POST", WEBHOOK):
        return
    params = dict(case.path_parameters or {})
    platform = str(params.get("platform", ""))
    if turn % 2 == 0 and platform in stores:
        params["store"] = stores[platform]
        case.path_parameters = params


def confine(case: Any) -> None:
    """Keep what a valid request changes away from what other tests look at."""
    method, path = case.operation.method.upper(), case.operation.path
    body = case.body if isinstance(case.body, dict) else None
    if (method, path) == ("POST", "/inventory/{sku}/adjustments"):
        case.path_parameters = {**(case.path_parameters or {}), "sku": FUZZ_SKU}
        if body is not None and "warehouse" in body:
            body["warehouse"] = FUZZ_WAREHOUSE
    if (method, path) == ("PUT", "/inventory/{sku}/warehouses/{warehouse}/policy"):
        case.path_parameters = {"sku": FUZZ_SKU, "warehouse": FUZZ_WAREHOUSE}
    if (method, path) == ("PUT", "/warehouses/{warehouse}"):
        case.path_parameters = {"warehouse": FUZZ_WAREHOUSE}
    if (method, path) == ("POST", "/admin/api-keys") and body is not None:
        body["owner"] = f"{FUZZ_OWNER}{str(body.get('owner', ''))[:100]}"
        if "expires_in_days" in body:
            body["expires_in_days"] = 90


def error_shape_problem(response: requests.Response) -> str | None:
    try:
        found = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]!r}"
    if not isinstance(found, dict) or set(found) != {"error", "message"}:
        return f"not {{error, message}}: {json.dumps(found)[:200]}"
    if not all(isinstance(found[k], str) and found[k] for k in ("error", "message")):
        return f"error/message not non-empty strings: {json.dumps(found)[:200]}"
    return None


def fuzz(
    api: str,
    key: str,
    examples_per_mode: int,
    stores: dict[str, str],
) -> FuzzRun:
    """Drive every documented operation (`stores`: a real store id per platform, for the
    webhooks); returns what was sent and every failed check."""
    document = requests.get(f"{api}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    run = FuzzRun()
    started = time.monotonic()
    checks = [status_code_conformance, response_schema_conformance]
    for result in schema.get_all_operations():
        operation = result.ok()
        path = operation.path
        protected = any("apiKey" in r for r in operation.definition.raw.get("security", []))
        examples = examples_per_mode * (WEBHOOK_WEIGHT if path == WEBHOOK else 1)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _drive(operation, mode, api, key, protected, examples, stores, checks, run)
    run.seconds = time.monotonic() - started
    return run


def _drive(
    operation: Any,
    mode: GenerationMode,
    api: str,
    key: str,
    protected: bool,
    examples: int,
    stores: dict[str, str],
    checks: list[Any],
    run: FuzzRun,
) -> None:
    name = f"{operation.method.upper()} {operation.path}"
    session = requests.Session()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    def drive(case: Any) -> None:
        turn = run.by_operation[name] % 10
        steer(case, stores, turn)
        confine(case)
        headers = dict(case.headers or {})
        # mostly the throwaway admin key; some cases none or an unknown one (401 paths)
        if protected and turn != 9:
            headers["Authorization"] = f"Bearer {UNKNOWN_KEY if turn == 8 else key}"
        case.headers = headers
        response = case.call(base_url=api, session=session, timeout=15)
        run.requests += 1
        run.by_operation[name] += 1
        run.by_status[response.status_code] += 1
        where = f"{name} [{mode.value}] -> {response.status_code}"
        if response.status_code >= 500 and not (
            name == "GET /health" and response.status_code == 503
        ):
            run.failures.append(f"{where}: server error {response.text[:300]}")
            return
        if response.status_code >= 400:
            problem = error_shape_problem(response)
            if problem:
                run.failures.append(f"{where}: {problem}")
                return
        try:
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as exc:  # failed checks: report all, go on
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            named = [line for line in lines if line.startswith("- ST")] or lines[:1]
            run.failures.append(f"{where}: {'; '.join(named)[:300]} {response.text[:200]}")

    with contextlib.suppress(Unsatisfiable):  # nothing to negate (no parameters, no body)
        drive()
