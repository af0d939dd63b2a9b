"""Do get-by-alias and register stay flat as the registry grows?

Measures, on a real SQLite file and the PostgreSQL server, the median and p99 of a cold
``load_prompt`` by alias (cache off) and of ``register_prompt`` (a new version of an
existing prompt), first with 10 prompts then with 10,000; and with 10 then 5,000
versions of one prompt. Prints each figure and the ratio large / small (1.00 = flat).

    python -m bench.scale_bench [--quick] [--postgres URL | --no-postgres]

A benchmark, not a test: it never fails on a timing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

import prompthouse
from prompthouse.registry import Registry

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def timed(fn: Callable[[], object], runs: int, warmup: int = 20) -> tuple[float, float]:
    """Median and p99 of ``fn`` in microseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def grow_prompts(reg: Registry, start: int, stop: int) -> None:
    for i in range(start, stop):
        reg.register_prompt(f"filler/p{i:06d}", "Filler {{ x }}", tags={"n": str(i % 10)})
        if i % 3 == 0:
            reg.set_prompt_alias(f"filler/p{i:06d}", "production", 1)


def grow_versions(reg: Registry, name: str, start: int, stop: int) -> None:
    for i in range(start, stop):
        reg.register_prompt(name, f"Version {i}: answer {{{{ q }}}}", tags={"i": str(i)})


def measure(reg: Registry, name: str, runs: int) -> dict[str, tuple[float, float]]:
    counter = iter(range(10**9))
    return {
        "get by alias": timed(
            lambda: reg.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0), runs
        ),
        "register": timed(
            lambda: reg.register_prompt(name, f"probe {next(counter)} {{{{ q }}}}"), runs // 4
        ),
    }


def run_store(label: str, uri: str, prompts: tuple[int, int], versions: tuple[int, int],
              runs: int) -> list[tuple[str, str, float, float, float, float]]:
    reg = prompthouse.connect(uri)
    rows = []
    try:
        reg.register_prompt("target", "Answer {{ q }}")
        reg.set_prompt_alias("target", "production", 1)
        grow_prompts(reg, 0, prompts[0])
        small = measure(reg, "target", runs)
        grow_prompts(reg, prompts[0], prompts[1])
        large = measure(reg, "target", runs)
        for op in small:
            rows.append((label, f"{op}: {prompts[0]:,} vs {prompts[1]:,} prompts",
                         *small[op], *large[op]))
        reg.register_prompt("deep", "v1 {{ q }}")
        reg.set_prompt_alias("deep", "production", 1)
        grow_versions(reg, "deep", 1, versions[0])
        small = measure(reg, "deep", runs)
        grow_versions(reg, "deep", versions[0], versions[1])
        large = measure(reg, "deep", runs)
        for op in small:
            rows.append((label, f"{op}: {versions[0]:,} vs {versions[1]:,} versions",
                         *small[op], *large[op]))
    finally:
        reg.close()
    return rows


def _pg_schema(url: str) -> tuple[str, Callable[[], None]]:
    admin = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"),
                             isolation_level="AUTOCOMMIT")
    schema = f"ph_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return scoped.render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs")
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL URL")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    prompts = (10, 1_000) if args.quick else (10, 10_000)
    versions = (10, 500) if args.quick else (10, 5_000)
    runs = 200 if args.quick else 1000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run_store("sqlite", f"sqlite:///{Path(tmp) / 'scale.db'}", prompts, versions, runs)
    if not args.no_postgres:
        try:
            uri, drop = _pg_schema(args.postgres)
        except sa.exc.OperationalError as exc:
            print(f"PostgreSQL skipped: {str(exc.orig).splitlines()[0]}")
        else:
            try:
                rows += run_store("postgresql", uri, prompts, versions, runs)
            finally:
                drop()
    print(f"\n{'store':<11} {'operation':<40} {'small med':>10} {'small p99':>10} "
          f"{'large med':>10} {'large p99':>10} {'large/small':>12}")
    for store, op, s_med, s_p99, l_med, l_p99 in rows:
        print(f"{store:<11} {op:<40} {s_med:>8.0f}us {s_p99:>8.0f}us {l_med:>8.0f}us "
              f"{l_p99:>8.0f}us {l_med / s_med:>11.2f}x")


if __name__ == "__main__":
    main()
