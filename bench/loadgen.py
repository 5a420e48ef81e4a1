"""Load generator run as its own process: ``python -m bench.loadgen URL CLIENTS SECONDS`` posts citizen
reports from CLIENTS concurrent asyncio clients for SECONDS and prints one JSON line of results."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

import httpx


async def main(url: str, clients: int, seconds: float, category: str) -> dict[str, object]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        stop = time.monotonic() + seconds

        async def worker(n: int) -> None:
            rng = random.Random(n)
            while time.monotonic() < stop:
                body = {
                    "category": category,
                    "description": "Ổ gà lớn trên đường, nguy hiểm cho xe máy",
                    "lat": rng.uniform(10.4, 11.8),
                    "lon": rng.uniform(105.8, 106.8),
                }
                t0 = time.perf_counter()
                try:
                    r = await client.post("/api/v1/reports", json=body)
                    code = str(r.status_code)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                dt = time.perf_counter() - t0
                if code == "201":
                    latencies.append(dt)
                else:
                    errors[code] = errors.get(code, 0) + 1

        t0 = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        elapsed = time.monotonic() - t0
    return {"ok": len(latencies), "elapsed": elapsed, "latencies": latencies, "errors": errors}


if __name__ == "__main__":
    out = asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]))
    print(json.dumps(out))
