"""The load generator: ``wrk`` when installed, else an asyncio + httpx generator.

``wrk`` (Debian: ``apt-get install wrk``) runs with one thread, so it holds one core at
most and leaves the other to the server. Without it, the fallback runs as a separate
process (``python -m bench.loadgen URL CONNECTIONS SECONDS``): N connections each sending
GETs back to back, printing one JSON line. It is much slower than wrk (a Python client
saturates before a fast server does), so its figures are a floor, and the report says
which generator ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class LoadResult:
    """One load run: requests per second, p99 latency (ms), failed requests."""

    rps: float
    p99_ms: float
    errors: int


def tool() -> str:
    """The generator this run uses: ``wrk`` if installed, else ``python``
    (``PROMPTHOUSE_BENCH_LOADGEN=python`` forces the fallback)."""
    if os.environ.get("PROMPTHOUSE_BENCH_LOADGEN") == "python" or not shutil.which("wrk"):
        return "python"
    return "wrk"


def tool_version() -> str:
    if tool() == "python":
        return "bench.loadgen (asyncio + httpx)"
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (out.stdout + out.stderr).strip().splitlines()[0].split(" Copyright")[0]


def run(url: str, connections: int, seconds: float) -> LoadResult:
    """GET ``url`` over ``connections`` keep-alive connections for ``seconds``."""
    if tool() == "wrk":
        return _run_wrk(url, connections, seconds)
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", url, str(connections), str(seconds)],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return LoadResult(data["rps"], data["p99_ms"], data["errors"])


def _run_wrk(url: str, connections: int, seconds: float) -> LoadResult:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
         "--timeout", "10s", url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return LoadResult(rps, float(p99[1]) * _UNITS[p99[2]] if p99 else float("nan"), errors)


async def _generate(url: str, connections: int, seconds: float) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        await asyncio.gather(*(client.get(url) for _ in range(connections)))  # connect
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while (start := time.perf_counter()) < deadline:
                try:
                    response = await client.get(url)
                    if response.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0
    return {"rps": len(latencies) / elapsed, "p99_ms": p99 * 1000, "errors": errors}


def main(argv: list[str]) -> int:
    url, connections, seconds = argv[0], int(argv[1]), float(argv[2])
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        print(json.dumps(runner.run(_generate(url, connections, seconds))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
