"""Load generator run as its own process: ``python -m bench.loadgen URL CLIENTS SECONDS CATEGORY`` posts
citizen reports from CLIENTS concurrent clients for SECONDS and prints one JSON line of results.

Each virtual client holds one HTTP/1.1 keep-alive connection, written and read with plain asyncio streams
(responses framed by ``Content-Length`` or chunked encoding); a ``Connection: close`` answer or a dropped
connection makes it reconnect. A general-purpose client (httpx) spends more CPU per request than the server
under test, so the figure measured the tool; this one costs a few tens of microseconds per request.

Options for measuring other endpoints (the defaults are what ``bench/run.py`` uses):
``--method GET --path /healthz --expect 200`` (no body is sent with GET or HEAD).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from urllib.parse import urlsplit

DESCRIPTION = "Ổ gà lớn trên đường, nguy hiểm cho xe máy"


class Closed(Exception):
    """The server closed the connection before a whole response arrived."""


def request_bytes(method: str, host: str, path: str, body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: cityops-loadgen", "Accept: */*"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


async def read_response(reader: asyncio.StreamReader, method: str) -> tuple[int, bool]:
    """Read one whole response; return its status and whether the server will close the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise Closed from exc
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    version, status = parts[0], int(parts[1])
    length: int | None = None
    chunked = False
    close = version == b"HTTP/1.0"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            token = value.strip().lower()
            close = token == b"close" or (close and token != b"keep-alive")
    try:
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            pass
        elif chunked:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)  # the chunk and its CRLF
                if size == 0:
                    break
        elif length is not None:
            await reader.readexactly(length)
        else:  # no framing: the body runs to the end of the connection
            await reader.read()
            close = True
    except asyncio.IncompleteReadError as exc:
        raise Closed from exc
    return status, close


async def main(
    url: str,
    clients: int,
    seconds: float,
    category: str,
    *,
    method: str = "POST",
    path: str = "/api/v1/reports",
    expect: int = 201,
) -> dict[str, object]:
    target = urlsplit(url)
    host = target.hostname or "127.0.0.1"
    port = target.port or 80
    netloc = target.netloc
    prefix = target.path.rstrip("/")
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop = time.monotonic() + seconds
    send_body = method not in ("GET", "HEAD")

    def count(code: str) -> None:
        errors[code] = errors.get(code, 0) + 1

    async def worker(n: int) -> None:
        rng = random.Random(n)
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while time.monotonic() < stop:
            body = None
            if send_body:
                body = json.dumps(
                    {
                        "category": category,
                        "description": DESCRIPTION,
                        "lat": rng.uniform(10.4, 11.8),
                        "lon": rng.uniform(105.8, 106.8),
                    },
                    ensure_ascii=False,
                ).encode()
            raw = request_bytes(method, netloc, prefix + path, body)
            t0 = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                assert reader is not None
                writer.write(raw)
                status, close = await read_response(reader, method)
            except (OSError, Closed, ValueError, IndexError) as exc:
                count(type(exc).__name__)
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            dt = time.perf_counter() - t0
            if status == expect:
                latencies.append(dt)
            else:
                count(str(status))
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    t0 = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    elapsed = time.monotonic() - t0
    return {"ok": len(latencies), "elapsed": elapsed, "latencies": latencies, "errors": errors}


def run(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("clients", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("category", nargs="?", default="pothole")
    parser.add_argument("--method", default="POST")
    parser.add_argument("--path", default="/api/v1/reports")
    parser.add_argument("--expect", type=int, default=201, help="the status counted as a success")
    args = parser.parse_args(argv)
    coro = main(
        args.url,
        args.clients,
        args.seconds,
        args.category,
        method=args.method.upper(),
        path=args.path,
        expect=args.expect,
    )
    try:
        import uvloop  # the server's event loop too; the loader then costs less CPU per request
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    result = json.dumps(run())
    # The event loop may leave stdout non-blocking; a pipe then takes 64 KiB and refuses the rest.
    os.set_blocking(sys.stdout.fileno(), True)
    print(result)
