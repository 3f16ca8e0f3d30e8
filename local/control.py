"""The running local stack, found through the state file it writes (whatever its ports):
`make status`, `make stop`, and `bin/orderhub env` (the URLs and a dev key per role as shell
exports, so that the docs' examples run as written: `eval "$(bin/orderhub env)"`)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from local.stack import ROOT, state_path

SEED_FILE = ROOT / "local" / "seed.json"
NOT_RUNNING = "the local stack is not running: start it with `make run`"
# the state file's URLs, under the names the docs' examples use
URL_VARIABLES = {
    "ORDERHUB_API": "api_url",
    "ORDERHUB_AWS": "aws_url",
    "ORDERHUB_STUB": "stub_url",
    "ORDERHUB_PULL_STUB": "pull_stub_url",
    "ORDERHUB_NOTIFY_STUB": "notify_stub_url",
    "ORDERHUB_TRACKING_STUB": "tracking_stub_url",
}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:  # Linux: an exited child its parent has not reaped yet is a zombie, not a stack
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def running_state(path: Path | None = None) -> dict[str, Any] | None:
    """The state of the stack that is running, or None (a state file left by a stack that was
    killed is removed)."""
    path = path or state_path()
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not _alive(int(state.get("pid", 0))):
        path.unlink(missing_ok=True)
        return None
    return state


def require_running() -> dict[str, Any]:
    state = running_state()
    if state is None:
        raise SystemExit(NOT_RUNNING)
    return state


def dev_keys(seed_file: Path = SEED_FILE) -> dict[str, str]:
    """The seed's dev key of each role (one per role; the first wins)."""
    keys: dict[str, str] = {}
    for entry in json.loads(seed_file.read_text(encoding="utf-8")).get("api_keys", []):
        keys.setdefault(str(entry["role"]), str(entry["key"]))
    return keys


def env_lines(state: dict[str, Any]) -> list[str]:
    """`export NAME=value` lines: the stack's URLs and a dev key per role (ADMIN_KEY, ...)."""
    values = {name: str(state[key]) for name, key in URL_VARIABLES.items() if key in state}
    values |= {f"{role.upper()}_KEY": key for role, key in dev_keys().items()}
    values["ORDERHUB_STATE_FILE"] = str(state_path())
    values |= group_urls(state)
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def group_urls(state: dict[str, Any]) -> dict[str, str]:
    """ORDERHUB_AWS_DYNAMODB, _SQS, _S3, _KMS: the emulator's service groups (one process
    each, local/emulator_groups.py); ORDERHUB_AWS itself serves or forwards every service."""
    from local.emulator_groups import ENDPOINT_VARIABLES

    env = state.get("environment", {})
    return {
        f"ORDERHUB_AWS_{group.upper()}": env[name]
        for name, group in ENDPOINT_VARIABLES.items()
        if name == f"AWS_ENDPOINT_URL_{group.upper()}" and name in env
    }


def _health(api_url: str) -> str:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=5) as response:
            return f"{response.status} {json.loads(response.read()).get('status', '')}"
    except Exception as exc:  # reported, not raised: status says what it sees
        return f"not answering ({type(exc).__name__})"


def status() -> int:
    state = running_state()
    if state is None:
        print(NOT_RUNNING)
        return 3
    print(f"OrderHub local stack is running (pid {state['pid']}, state {state_path()})")
    for name, key in URL_VARIABLES.items():
        if key in state:
            print(f"  {name:<22} {state[key]}")
    print(f"  health                 {_health(str(state['api_url']))}")
    return 0


def stop(timeout: float = 40.0) -> int:
    state = running_state()
    if state is None:
        print("the local stack is not running")
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)  # the stack stops every part, as on Ctrl-C
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid) or not state_path().exists():  # the stack removes it last
            print("OrderHub local stack stopped.")
            return 0
        time.sleep(0.2)
    print(f"the stack (pid {pid}) did not stop within {timeout:.0f} s", file=sys.stderr)
    return 1


def tap(queue: str, wait_seconds: int = 2) -> int:
    """Print (and take off) what a local tap queue holds: `orderhub-inventory-tap` (the event
    bus's LimitedSale events), `orderhub-alerts-p0-tap` (the SNS topics' messages), ..."""
    import boto3

    from chalicelib.settings import STAGE, resource_name
    from local.emulator_groups import endpoint_for

    state = require_running()
    env = state["environment"]
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint_for("sqs", env, state["aws_url"]),  # the SQS group's process
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )
    taps = {**state.get("event_taps", {}), **state.get("sns_taps", {})}
    urls = {url.rsplit("/", 1)[-1]: url for url in taps.values()}
    # the docs' stage-less name (`orderhub-inventory-tap`) finds the stack's stage's tap
    queue = resource_name(env.get(STAGE, ""), queue)
    if queue not in urls:
        print(f"no tap queue '{queue}'; the taps are: {', '.join(sorted(urls))}", file=sys.stderr)
        return 2
    shown = 0
    while True:
        got = sqs.receive_message(
            QueueUrl=urls[queue], MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        ).get("Messages", [])
        if not got:
            break
        for message in got:
            print(message["Body"])
            sqs.delete_message(QueueUrl=urls[queue], ReceiptHandle=message["ReceiptHandle"])
            shown += 1
        wait_seconds = 0
    print(f"{shown} message(s) from {queue}", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    if argv == ["status"]:
        return status()
    if argv == ["stop"]:
        return stop()
    if argv == ["env"]:
        print("\n".join(env_lines(require_running())))
        return 0
    if len(argv) == 2 and argv[0] == "tap":
        return tap(argv[1])
    print("usage: python -m local.control status | stop | env | tap QUEUE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
