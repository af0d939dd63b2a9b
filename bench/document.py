"""The machine a run measured on, and the Markdown page of its results."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import loadgen
from bench.report import Report, markdown_table

PACKAGES = ("prompthouse", "mlflow", "fastapi", "starlette", "uvicorn", "uvloop", "httptools",
            "httpx", "sqlalchemy", "psycopg", "jinja2")

METHOD = """\
- **Same machine, same run, loopback.** `mlflow server` (SQLite backend, 1 worker),
  `prompthouse serve` (SQLite, and PostgreSQL in a fresh schema dropped afterwards) and a
  bare FastAPI app (`uvicorn --http httptools --loop uvloop`) run as local processes.
  Access logs are off on all of them (`--uvicorn-opts --no-access-log` for MLflow,
  `--log-level warning` for prompthouse), so no side pays for log lines. MLflow's job
  runner (background jobs the prompt registry never uses) is off.
- **Through each SDK.** Per-call rows go through `mlflow.genai` and
  `prompthouse.connect("http://...")`, the same function names and arguments. Reads pass
  `cache_ttl_seconds=0`: no client cache on either side, and neither server caches.
- **Robust figures.** Every figure is taken after a warm-up, in interleaved rounds (each
  round takes samples from every system in turn). Tables show the median, p99 (nearest
  rank) and the *spread*: half the range of the per-round medians over the median.
  In-process rows time batches of calls (garbage collector off) and report the mean per
  call of each batch. Throughput runs take turns between servers at each concurrency.
- **Ratios** are prompthouse / peer, of the medians: below 1 is better for a latency,
  above 1 for a throughput. "which is better" says it in words.
- **Populating.** Search set: prompthouse through its embedded SDK on the served
  database, MLflow through its REST API (the two requests `mlflow.genai.register_prompt`
  makes to create a prompt). Scaling filler: bulk SQL inserts into prompthouse's tables;
  the measured calls go through the real server.
- **Ceilings.** "vs a bare FastAPI round trip" times `GET /constant` on the bare app
  with a keep-alive `httpx.Client`, the HTTP client the prompthouse SDK uses, in the
  same rounds as the SDK's load. Throughput runs `wrk -t1 -cN` (one thread, so the load
  generator holds at most one of the cores), a warm-up run per server first, then the
  servers take turns; after each run the harness waits until the server is idle again.
- **Scaling** uses two more prompthouse servers per store: one grows, one stays at the
  smallest size and is timed in the same rounds, so "vs reference now" compares them
  under the same machine load (the 20% target is judged on it); "vs smallest" is the
  growing server against its own first point.
- Timings never fail anything: a missed target is reported, not raised."""


def machine_info(postgres_url: str | None) -> dict[str, Any]:
    cpu = "unknown"
    ram_gib = 0.0
    try:
        info = dict(line.split(":", 1) for line in
                    Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines()
                    if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        cpu = info.get("model name", cpu)
        if "cpu MHz" in info:
            cpu += f" at {float(info['cpu MHz']):.0f} MHz"
        if "hypervisor" in info.get("flags", "").split():
            cpu += ", virtual machine"
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["sqlite"] = sqlite3.sqlite_version
    versions["postgresql"] = _postgres_version(postgres_url) if postgres_url else None
    versions["load generator"] = loadgen.tool_version()
    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(ram_gib, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0], "versions": versions,
    }


def _postgres_version(url: str) -> str | None:
    from bench.services import engine_for

    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SHOW server_version")).scalar())
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()


def markdown(report: Report) -> str:
    meta = report.meta
    m = meta["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    lines = [
        "# Benchmarks: prompthouse against MLflow",
        "",
        f"Run of {meta['started']} ({meta['mode']} mode, {meta['duration_s']:.0f} s).",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}",
        f"- Python {m['python']}; {versions}",
        f"- Load average (1 min) at start / end: {meta['load_start']:.2f} / "
        f"{meta['load_end']:.2f}",
        "",
        "Reproduce (from a clone, `pip install -e '.[dev]'`, optionally `apt-get install "
        "wrk` and a PostgreSQL on 127.0.0.1:5432):",
        "",
        "```console",
        "$ python -m bench            # full run, about 11 minutes on 2 cores; writes this page",
        "$ python -m bench --quick    # under two minutes, smaller sizes",
        "$ python -m bench --smoke    # seconds: checks the harness (tests/test_bench_smoke.py)",
        "```",
        "",
        "## Method",
        "",
        METHOD,
    ]
    for title, (headers, rows) in report.blocks(targets_first=True):
        lines += ["", f"## {title}", "", markdown_table(headers, rows)]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    return "\n".join(lines) + "\n"
