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
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.http import HttpClient
from bench.stack import clean_env, free_port, spawn, stop

SLAFLOW = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "slaflow")


async def _healthy(http: HttpClient) -> None:
    for _ in range(300):
        try:
            if (await http.get("/healthz"))[0] == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the API did not come up")


async def _rate(count: int, concurrency: int, op: Callable[[int], Awaitable[None]]) -> float:
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with slots:
            await op(i)

    start = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.monotonic() - start)


async def _round(http: HttpClient, name: str, count: int, concurrency: int) -> str:
    ids = [f"split-{uuid.uuid4().hex[:12]}" for _ in range(count)]

    async def open_and_read(i: int) -> None:
        body = {"ticket_id": ids[i], "title": "t", "priority": "P2", "customer_id": "acme"}
        status, _ = await http.post("/tickets", body)
        assert status in (200, 201), status
        await http.get(f"/tickets/{ids[i]}")

    async def respond(i: int) -> None:
        status, answer = await http.post(f"/tickets/{ids[i]}/respond", {"agent_id": "ann"})
        assert status == 200, (status, answer)

    opens = await _rate(count, concurrency, open_and_read)
    responds = await _rate(count, concurrency, respond)
    return f"| {name} | {opens:.1f}/s | {responds:.1f}/s |"


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
        await _healthy(inside)
        rows.append(await _round(inside, "API in the worker's process", count, concurrency))
        apart_env = clean_env(
            SLAFLOW_DATA_DIR=str(data),
            SLAFLOW_API_PORT=str(other),
            TEMPORAL_ADDRESS=f"127.0.0.1:{temporal}",
        )
        apart = spawn([SLAFLOW, "api"], data / "api.log", apart_env)
        try:
            separate = HttpClient("127.0.0.1", other, concurrency)
            await _healthy(separate)
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
