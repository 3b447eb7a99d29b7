"""Does a separate API process pay on this machine? `python -m bench.split`

`slaflow up` runs the API in the worker's process (one GIL). This opens and responds to the
same number of tickets through that API, then through a `slaflow api` process of its own on
the same stack (the worker's API then idle), then through the first again, and prints the
rates. Recorded by hand in docs/tuning.md; the machine decides, so run it on yours.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from pathlib import Path

from bench.http import HttpClient
from bench.measure import open_product, respond_product
from bench.stack import BIN, clean_env, free_port, spawn, stop, wait_healthy

SLAFLOW = str(BIN / "slaflow")
CAP_SECONDS = 120.0  # per loop; the counts end them long before on this machine


async def _round(http: HttpClient, name: str, count: int, concurrency: int) -> str:
    ids = [f"split-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    opens = await open_product(http, ids, concurrency, CAP_SECONDS)
    responds = await respond_product(http, ids, concurrency, CAP_SECONDS)
    return f"| {name} | {opens.rate:.1f}/s | {responds.rate:.1f}/s |"


async def main(count: int, concurrency: int) -> None:
    api, temporal, other = free_port(), free_port(), free_port()
    data = Path(tempfile.mkdtemp(prefix="slaflow-split-"))
    env = clean_env(
        SLAFLOW_DATA_DIR=str(data), SLAFLOW_API_PORT=str(api), SLAFLOW_TEMPORAL_PORT=str(temporal)
    )
    up = spawn([SLAFLOW, "up", "--no-ui"], data / "up.log", env)
    rows = []
    try:
        inside = HttpClient("127.0.0.1", api, concurrency)
        await wait_healthy(inside, up)
        rows.append(await _round(inside, "API in the worker's process", count, concurrency))
        apart_env = clean_env(
            SLAFLOW_DATA_DIR=str(data),
            SLAFLOW_API_PORT=str(other),
            TEMPORAL_ADDRESS=f"127.0.0.1:{temporal}",
        )
        apart = spawn([SLAFLOW, "api"], data / "api.log", apart_env)
        try:
            separate = HttpClient("127.0.0.1", other, concurrency)
            await wait_healthy(separate, apart)
            rows.append(await _round(separate, "API in a process of its own", count, concurrency))
            again = "API in the worker's process, again"
            rows.append(await _round(inside, again, count, concurrency))
        finally:
            stop(apart)
    finally:
        stop(up)
    print(f"{count} tickets opened (each then read) and responded, concurrency {concurrency}:")
    print("| API | opens | responds |\n| --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.split", description=__doc__)
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.concurrency))
