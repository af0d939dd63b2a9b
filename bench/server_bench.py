"""prompthouse's server and SDK against MLflow 3.17.2's, side by side in one run.

Starts on loopback: ``mlflow server`` (SQLite backend), ``prompthouse serve`` (SQLite),
and a bare FastAPI app answering a constant (the ceiling of the stack). Then, through
each product's Python SDK with its cache off: cold load by alias, cold load by version,
register a new version; and the warm cache hit of ``load_prompt``. Prints medians, p99s
and ratios. Needs ``pip install -e '.[dev]'`` (MLflow 3.17.2).

    python -m bench.server_bench [--quick]

A benchmark, not a test: it never fails on a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

BARE_APP = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/constant")
async def constant():
    return {"ok": True}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {seconds:.0f} s")


@contextlib.contextmanager
def process(args: list[str], ready_url: str, cwd: str, env: dict[str, str] | None = None
            ) -> Iterator[None]:
    log = open(Path(cwd) / f"{Path(args[2] if len(args) > 2 else args[0]).name}.log", "w")
    proc = subprocess.Popen(args, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    try:
        wait_ready(ready_url)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def timed(fn: Callable[[], object], runs: int, warmup: int = 10) -> tuple[float, float]:
    """Median and p99, in microseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 100 if args.quick else 500
    slow_runs = 30 if args.quick else 100

    import mlflow
    import mlflow.genai

    import prompthouse

    with tempfile.TemporaryDirectory() as tmp:
        ml_port, ph_port, bare_port = free_port(), free_port(), free_port()
        Path(tmp, "bare_app.py").write_text(BARE_APP)
        ml_url = f"http://127.0.0.1:{ml_port}"
        ph_url = f"http://127.0.0.1:{ph_port}"
        bare_url = f"http://127.0.0.1:{bare_port}"
        mlflow_cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                      f"sqlite:///{tmp}/mlflow.db", "--host", "127.0.0.1", "--port",
                      str(ml_port), "--workers", "1"]
        ph_cmd = [sys.executable, "-m", "prompthouse", "serve", "--host", "127.0.0.1",
                  "--port", str(ph_port), "--store", f"sqlite:///{tmp}/prompthouse.db"]
        bare_cmd = [sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1",
                    "--port", str(bare_port), "--http", "httptools", "--no-access-log",
                    "--log-level", "warning"]
        env = {"PROMPTHOUSE_LOG_LEVEL": "WARNING"}
        with process(mlflow_cmd, ml_url + "/health", tmp), \
                process(ph_cmd, ph_url + "/healthz", tmp, env), \
                process(bare_cmd, bare_url + "/constant", tmp):
            mlflow.set_tracking_uri(ml_url)
            mlflow.set_registry_uri(ml_url)
            ph = prompthouse.connect(ph_url)
            template = "Answer the question {{ question }} in the style {{ style }}."
            for _ in range(3):
                mlflow.genai.register_prompt("bench-qa", template, commit_message="m")
                ph.register_prompt("bench-qa", template, commit_message="m")
            mlflow.genai.set_prompt_alias("bench-qa", "production", 2)
            ph.set_prompt_alias("bench-qa", "production", 2)

            bare = httpx.Client(base_url=bare_url)
            results: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}
            results["cold load by alias"] = (
                timed(lambda: mlflow.genai.load_prompt("prompts:/bench-qa@production",
                                                       cache_ttl_seconds=0), slow_runs),
                timed(lambda: ph.load_prompt("prompts:/bench-qa@production",
                                             cache_ttl_seconds=0), runs),
            )
            results["cold load by version"] = (
                timed(lambda: mlflow.genai.load_prompt("prompts:/bench-qa/2",
                                                       cache_ttl_seconds=0), slow_runs),
                timed(lambda: ph.load_prompt("prompts:/bench-qa/2", cache_ttl_seconds=0),
                      runs),
            )
            results["register a version"] = (
                timed(lambda: mlflow.genai.register_prompt("bench-qa", template), slow_runs,
                      warmup=3),
                timed(lambda: ph.register_prompt("bench-qa", template), slow_runs, warmup=3),
            )
            mlflow.genai.load_prompt("prompts:/bench-qa@production")
            ph.load_prompt("prompts:/bench-qa@production")
            results["warm cache hit (alias)"] = (
                timed(lambda: mlflow.genai.load_prompt("prompts:/bench-qa@production"),
                      runs * 20),
                timed(lambda: ph.load_prompt("prompts:/bench-qa@production"), runs * 20),
            )
            ceiling = timed(lambda: bare.get("/constant"), runs)
            raw_alias = timed(lambda: ph._client.get(  # noqa: SLF001 - the bare HTTP call
                "/api/v1/prompts/bench-qa/aliases/production"), runs) \
                if hasattr(ph, "_client") else None
            ph.close()
            bare.close()

    targets = {"cold load by alias": 30, "cold load by version": 20, "register a version": 15}
    print(f"\n{'operation':<26} {'MLflow med':>11} {'p99':>9} {'prompthouse med':>16} "
          f"{'p99':>9} {'MLflow/ph':>10} {'target':>8}")
    for op, ((m_med, m_p99), (p_med, p_p99)) in results.items():
        target = targets.get(op)
        verdict = "" if target is None else (f">= {target}x " +
                                              ("met" if m_med / p_med >= target else "MISSED"))
        print(f"{op:<26} {_us(m_med):>11} {_us(m_p99):>9} {_us(p_med):>16} {_us(p_p99):>9} "
              f"{m_med / p_med:>9.1f}x {verdict:>8}")
    alias_med = results["cold load by alias"][1][0]
    print(f"\nbare FastAPI round trip (httpx, constant): median {_us(ceiling[0])}, "
          f"p99 {_us(ceiling[1])}")
    if raw_alias:
        print(f"prompthouse GET by alias, raw httpx:     median {_us(raw_alias[0])}")
    print(f"SDK cold load by alias / bare round trip: {alias_med / ceiling[0]:.2f}x "
          f"(target <= 1.5x)")
    hit = results["warm cache hit (alias)"][1][0]
    print(f"warm cache hit: {hit:.2f} us (target < 2 us)")


def _us(value: float) -> str:
    return f"{value / 1000:.2f}ms" if value >= 1000 else f"{value:.1f}us"


if __name__ == "__main__":
    main()
