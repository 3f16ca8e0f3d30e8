"""The emulator as one process (one lock) against split by service group (`--split`): threads
each looping DynamoDB GetItem + SQS SendMessage + KMS GenerateDataKey, requests per second.

    python bench/emulator_split.py [--threads 8] [--seconds 15]

Each client goes where `make run` points it: the group's process when split (botocore's
per-service variables), the one port otherwise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.emulator_groups import endpoint_for, endpoint_variables, fetch_endpoints  # noqa: E402
from local.stack import _die_with_parent  # noqa: E402


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def run(split: bool, threads: int, seconds: float) -> float:
    port = _free_port()
    args = [sys.executable, "-m", "local.emulator", "--port", str(port)]
    child = subprocess.Popen(
        args + (["--split"] if split else []),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    front = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                variables = endpoint_variables(fetch_endpoints(front, timeout=2))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

        def url(service: str) -> str:
            return endpoint_for(service, variables, front)

        ddb, sqs, kms = (_client(s, url(s)) for s in ("dynamodb", "sqs", "kms"))
        ddb.create_table(
            TableName="split",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName="split", Item={"pk": {"S": "k"}, "v": {"S": "x" * 500}})
        queue = sqs.create_queue(QueueName="split")["QueueUrl"]
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        done = [0] * threads
        stop = time.monotonic() + seconds

        def worker(n: int) -> None:
            d, q, k = (_client(s, url(s)) for s in ("dynamodb", "sqs", "kms"))
            while time.monotonic() < stop:
                d.get_item(TableName="split", Key={"pk": {"S": "k"}})
                q.send_message(QueueUrl=queue, MessageBody="x" * 300)
                k.generate_data_key(KeyId=key, KeySpec="AES_256")
                done[n] += 3

        pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        started = time.monotonic()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return sum(done) / (time.monotonic() - started)
    finally:
        child.terminate()
        child.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args(argv)
    load = Path("/proc/loadavg").read_text().split()[0]
    for split in (False, True):
        rate = run(split, args.threads, args.seconds)
        label = "split by group" if split else "one process   "
        print(f"emulator {label}  {rate:7.1f} requests/s  ({args.threads} threads; load {load})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
