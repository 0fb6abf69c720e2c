"""The ceiling: the same count Queries as distro, sent with nothing but aiohttp.

A reference measurement, never used by distro: no SDK, no retries, no
checkpoint, a hand-written SigV4 signer with the signing key cached per day,
request bodies made by orjson, one aiohttp session with a pool as large as
the concurrency, and *concurrency* workers pulling spaces from one iterator.
Nothing a real client can do for these requests is much cheaper, so distro
is measured against it in the same run.

    python -m benchmarks.ceiling --endpoint URL --table NAME --spaces FILE

prints one JSON object: requests, uploads, and the loop's wall and CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

TARGET = "DynamoDB_20120810.Query"
CONTENT_TYPE = "application/x-amz-json-1.0"
SIGNED = "content-type;host;x-amz-date;x-amz-target"


class Signer:
    """SigV4 for DynamoDB JSON requests, with the derived key cached per day."""

    def __init__(self, access_key: str, secret_key: str, region: str, host: str) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.host = host
        self._day = ""
        self._key = b""

    def headers(self, body: bytes) -> dict[str, str]:
        """The headers of a signed Query carrying *body*."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        if day != self._day:
            self._day, self._key = day, self._derive(day)
        scope = f"{day}/{self.region}/dynamodb/aws4_request"
        canonical = (
            f"POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{self.host}\nx-amz-date:{stamp}\n"
            f"x-amz-target:{TARGET}\n\n{SIGNED}\n{hashlib.sha256(body).hexdigest()}"
        )
        to_sign = (
            f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.new(self._key, to_sign.encode(), hashlib.sha256).hexdigest()
        return {
            "Content-Type": CONTENT_TYPE,
            "X-Amz-Target": TARGET,
            "X-Amz-Date": stamp,
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                f"SignedHeaders={SIGNED}, Signature={signature}"
            ),
        }

    def _derive(self, day: str) -> bytes:
        key = ("AWS4" + self.secret_key).encode()
        for part in (day, self.region, "dynamodb", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return key


async def count_all(
    endpoint: str, table: str, region: str, spaces: list[str], concurrency: int
) -> dict[str, Any]:
    """Count every space in *spaces*, *concurrency* at a time; return the totals."""
    signer = Signer(
        os.environ["AWS_ACCESS_KEY_ID"],
        os.environ["AWS_SECRET_ACCESS_KEY"],
        region,
        urlsplit(endpoint).netloc,
    )
    work: Iterator[str] = iter(spaces)
    totals: dict[str, Any] = {"requests": 0, "uploads": 0, "signing_cpu": 0.0, "parsing_cpu": 0.0}

    async def worker(session: aiohttp.ClientSession) -> None:
        for space in work:  # one iterator shared by every worker: each space is taken once
            request: dict[str, Any] = {
                "TableName": table,
                "KeyConditionExpression": "#space = :space",
                "ExpressionAttributeNames": {"#space": "space"},
                "ExpressionAttributeValues": {":space": {"S": space}},
                "Select": "COUNT",
                "ReturnConsumedCapacity": "TOTAL",
            }
            while True:
                body = orjson.dumps(request)
                started = time.thread_time()
                headers = signer.headers(body)
                totals["signing_cpu"] += time.thread_time() - started
                async with session.post(endpoint, data=body, headers=headers) as reply:
                    payload = await reply.read()
                    if reply.status != 200:
                        raise RuntimeError(f"{reply.status}: {payload[:200]!r}")
                started = time.thread_time()
                page = orjson.loads(payload)
                totals["parsing_cpu"] += time.thread_time() - started
                totals["requests"] += 1
                totals["uploads"] += page["Count"]
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session, asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker(session))
    return totals


def main(argv: list[str] | None = None) -> int:
    """Run the loop over the spaces listed in a file, one per line; print JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--region", default="us-east-2")
    parser.add_argument("--spaces", required=True, help="file with one space DID per line")
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args(argv)
    with open(args.spaces) as lines:
        spaces = [line.strip() for line in lines if line.strip()]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    totals = asyncio.run(
        count_all(args.endpoint, args.table, args.region, spaces, args.concurrency)
    )
    totals |= {"loop_wall": time.perf_counter() - wall0, "loop_cpu": time.process_time() - cpu0}
    json.dump(totals, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
