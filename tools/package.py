"""`make package STAGE=prod`: the deployable template of one stage, in one place for the Makefile
and the tests (python -m tools.package --stage prod build/package).

1. `chalice package --stage STAGE --merge-template infra/resources.json OUT`: Chalice's SAM
   template (functions, their roles from .chalice/policy.json, schedules, event sources, the
   REST API) deep-merged with infra/resources.json (tables, queues, alarms, ...).
2. The stage goes into the template: the `Stage` parameter's default becomes STAGE, so every
   name infra/resources.json writes as `orderhub-${Stage}-...` is this stage's (the naming
   rule is `chalicelib.settings.resource_name`); and the functions' IAM policies, which
   .chalice/policy.json writes stage-less (`table/orderhub-*`), are narrowed to the stage's own
   resources (`table/orderhub-${Stage}-*`), so staging's functions cannot touch prod's tables,
   queues, buckets, topics, bus or key. (Secret paths stay `orderhub/*`: see _UNSTAGED.)

Chalice itself knows nothing of the stage's resource names: a stage's template is this
module's output, not `chalice package`'s alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from chalicelib.settings import APP_NAME, STAGE_PATTERN

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = "infra/resources.json"
REGION = "us-east-1"

# a policy resource naming OrderHub's resources: `...:table/orderhub-*`, `alias/orderhub-pii`;
# the stage goes right after the app's name. Secrets likewise: `secret:orderhub/*` becomes
# `secret:orderhub/${Stage}/*` (chalicelib/settings.secret_name; the stores' and tracking
# providers' secrets are `orderhub/{stage}/stores/...`, `orderhub/{stage}/tracking/...`).
_UNSTAGED = re.compile(rf"(?<![\w-]){APP_NAME}-")
_UNSTAGED_SECRET = re.compile(rf"(?<=:secret:){APP_NAME}/")


def _stage_text(text: str) -> str:
    text = _UNSTAGED_SECRET.sub(f"{APP_NAME}/${{Stage}}/", text)
    return _UNSTAGED.sub(f"{APP_NAME}-${{Stage}}-", text)


def _stage_value(value: Any) -> Any:
    """A policy's Resource / Condition value with the stage in every OrderHub name."""
    if isinstance(value, str) and (_UNSTAGED.search(value) or _UNSTAGED_SECRET.search(value)):
        return {"Fn::Sub": _stage_text(value)}
    if isinstance(value, list):
        return [_stage_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _stage_value(v) for k, v in value.items()}
    return value


def stage_template(template: dict[str, Any], stage: str) -> dict[str, Any]:
    """The packaged template made the stage's (in place; returned for convenience)."""
    if not re.fullmatch(STAGE_PATTERN, stage):
        raise ValueError(f"stage {stage!r} must match {STAGE_PATTERN} (it is in every name)")
    template["Parameters"]["Stage"]["Default"] = stage
    for res in template["Resources"].values():
        if res.get("Type") != "AWS::IAM::Role":
            continue
        for policy in res["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                for key in ("Resource", "Condition"):
                    if key in statement:
                        statement[key] = _stage_value(statement[key])
    return template


def package(stage: str, outdir: Path) -> dict[str, Any]:
    """Package the app for `stage` into `outdir` (sam.json, deployment.zip); the template."""
    chalice = Path(sys.executable).parent / "chalice"
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", REGION)}
    subprocess.run(
        [
            str(chalice),
            "package",
            "--stage",
            stage,
            "--merge-template",
            MERGE_TEMPLATE,
            str(outdir),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    path = outdir / "sam.json"
    template = stage_template(json.loads(path.read_text(encoding="utf-8")), stage)
    path.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    return template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    package(args.stage, args.outdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
