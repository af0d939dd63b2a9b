"""``python -m bench``: prompthouse against MLflow 3.17.2, side by side, in one run.

Starts on loopback ``mlflow server`` (SQLite), ``prompthouse serve`` (SQLite, and
PostgreSQL when reachable) and a bare FastAPI app; measures per-call latency through
each SDK, search, in-process cache hits and ``format()``, throughput under a load
generator and prompthouse's scaling; prints the tables with medians, p99, ratios and
targets; writes ``bench/results/<date>[-mode].json`` and ``.md`` (and, for a full run,
``docs/benchmarks.md``). Needs ``pip install -e '.[dev]'`` (MLflow 3.17.2); uses ``wrk``
when installed. Timings never fail the run: the exit status is 0 unless the harness
itself breaks.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import prompthouse
from bench import inprocess, loadgen, scaling, sdk, throughput
from bench.document import machine_info, markdown
from bench.profiles import FULL, QUICK, SMOKE
from bench.report import Report, text_table
from bench.run import Run, seed
from bench.services import (
    DEFAULT_POSTGRES,
    PostgresUnavailable,
    Service,
    bare_server,
    mlflow_server,
    postgres_schema,
    prompthouse_server,
    running,
)

SECTIONS = ("in_process", "sdk", "search", "throughput", "scaling")
ROOT = Path(__file__).resolve().parent.parent


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under two minutes")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, seconds: checks that the harness works (CI)")
    parser.add_argument("--postgres", default=os.environ.get("PROMPTHOUSE_TEST_POSTGRES_URL",
                                                             DEFAULT_POSTGRES),
                        help="PostgreSQL server URL (a fresh schema is used and dropped)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections (default: all of {','.join(SECTIONS)})")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="where the JSON and Markdown results go")
    parser.add_argument("--no-docs", action="store_true",
                        help="do not rewrite docs/benchmarks.md (a full run of every section "
                             "does by default)")
    args = parser.parse_args(argv)
    args.only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    return args


def _quiet_mlflow() -> Any:
    warnings.filterwarnings("ignore")
    import mlflow
    import mlflow.genai

    logging.getLogger("mlflow").setLevel(logging.ERROR)  # after import: it sets its own
    return mlflow


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    profile = SMOKE if args.smoke else QUICK if args.quick else FULL
    try:
        mlflow = _quiet_mlflow()
    except ImportError:
        print("MLflow is not installed: pip install -e '.[dev]' (it pins mlflow==3.17.2).",
              file=sys.stderr)
        return 2
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    report = Report(meta={"started": started, "mode": profile.name,
                          "profile": profile.to_dict(), "sections": list(args.only),
                          "load_start": os.getloadavg()[0]})
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="prompthouse-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        postgres_url = None
        if not args.no_postgres:
            try:
                postgres_url = stack.enter_context(postgres_schema(args.postgres))
            except PostgresUnavailable as exc:
                report.notes.append(f"PostgreSQL skipped: {exc}")
        else:
            report.notes.append("PostgreSQL skipped: --no-postgres")
        run = Run(profile, report, Path(tmp), postgres_url)
        report.meta["machine"] = machine_info(postgres_url)
        run.say(f"{profile.name} run, load generator "
                f"{report.meta['machine']['versions']['load generator']}")
        main_servers, store_uris = _main_servers(run, args.only)
        scale_pairs = scaling.servers(run, stack) if "scaling" in args.only else []
        everything = [*main_servers.values(), *(s for p in scale_pairs for s in p.services)]
        run.say("starting " + ", ".join(s.label for s in everything))
        stack.enter_context(running(*everything))  # all at once: startup overlaps
        if main_servers:
            _main_sections(run, mlflow, main_servers, store_uris, args.only)
            for server in main_servers.values():
                server.terminate()  # leave the machine to the scaling servers
            for server in main_servers.values():
                server.stop()
        if scale_pairs:
            scaling.scaling_section(run, scale_pairs)
    report.meta["duration_s"] = round(time.monotonic() - t0, 1)
    report.meta["load_end"] = os.getloadavg()[0]
    if "throughput" in args.only and loadgen.tool() == "python":
        report.notes.append("Throughput came from the Python load generator (bench.loadgen; "
                            "wrk is not installed, or PROMPTHOUSE_BENCH_LOADGEN=python), which "
                            "saturates before fast servers do: install wrk for the ceiling.")
    _publish(report, args)
    return 0


def _main_servers(run: Run, only: tuple[str, ...]
                  ) -> tuple[dict[str, Service], dict[str, str]]:
    """The servers every section but scaling uses (none if only scaling runs), and the
    prompthouse store URIs by store."""
    workdir = run.workdir
    store_uris = {"sqlite": f"sqlite:///{workdir / 'ph.db'}"}
    if run.postgres_url:
        store_uris["postgresql"] = run.postgres_url
    if not set(only) - {"scaling"}:
        return {}, store_uris
    servers: dict[str, Service] = {"mlflow": mlflow_server(workdir), "bare": bare_server(workdir)}
    for store, uri in store_uris.items():
        servers[store] = prompthouse_server(f"prompthouse {store}", uri, workdir)
    if "throughput" in only:  # second workers for the load runs
        servers["bare 2w"] = bare_server(workdir, workers=2)
        for store in _load_stores(run, store_uris):
            servers[f"{store} 2w"] = prompthouse_server(f"prompthouse {store} 2w",
                                                        store_uris[store], workdir, workers=2)
    return servers, store_uris


def _main_sections(run: Run, mlflow: Any, servers: dict[str, Service],
                   store_uris: dict[str, str], only: tuple[str, ...]) -> None:
    """Everything but scaling, on the running main servers."""
    mlflow.set_tracking_uri(servers["mlflow"].url)
    mlflow.set_registry_uri(servers["mlflow"].url)
    remotes = {store: prompthouse.connect(servers[store].url) for store in store_uris}
    embedded = prompthouse.connect(store_uris["sqlite"])
    try:
        systems: dict[str, Any] = {sdk.MLFLOW: mlflow.genai, **remotes}
        for registry in systems.values():
            seed(registry)
        if "in_process" in only:
            inprocess.format_section(run)
            inprocess.warm_hit_section(run, mlflow.genai, remotes["sqlite"], embedded)
        if "sdk" in only:
            sdk.per_call_section(run, systems, servers["bare"].url)
        if "search" in only:
            sdk.search_section(run, systems, store_uris, servers["mlflow"].url)
    finally:
        embedded.close()
        for remote in remotes.values():
            remote.close()
    if "throughput" in only:
        throughput.throughput_section(run, _endpoints(run, servers, store_uris))


def _load_stores(run: Run, store_uris: dict[str, str]) -> list[str]:
    return [s for s in store_uris if s == "sqlite" or run.profile.load_postgres]


def _endpoints(run: Run, servers: dict[str, Service], store_uris: dict[str, str]
               ) -> list[throughput.Endpoint]:
    endpoints = []
    for store in _load_stores(run, store_uris):
        for workers, key in ((1, store), (2, f"{store} 2w")):
            endpoints.append(throughput.Endpoint("prompthouse", store, workers, servers[key],
                                                 throughput.ALIAS_PATH))
    return endpoints + [
        throughput.Endpoint("MLflow", "sqlite", 1, servers["mlflow"],
                            throughput.MLFLOW_ALIAS_PATH),
        throughput.Endpoint("bare FastAPI", "-", 1, servers["bare"], "/constant"),
        throughput.Endpoint("bare FastAPI", "-", 2, servers["bare 2w"], "/constant"),
    ]


def _publish(report: Report, args: argparse.Namespace) -> None:
    for title, (headers, rows) in report.blocks():
        print(f"\n## {title}\n")
        print(text_table(headers, rows))
    for note in report.notes:
        print(f"\nnote: {note}")
    args.out.mkdir(parents=True, exist_ok=True)
    mode = report.meta["mode"]
    stem = time.strftime("%Y-%m-%d") + ("" if mode == "full" else f"-{mode}")
    page = markdown(report)
    (args.out / f"{stem}.json").write_text(report.to_json())
    (args.out / f"{stem}.md").write_text(page)
    written = [args.out / f"{stem}.json", args.out / f"{stem}.md"]
    if mode == "full" and not args.no_docs and set(args.only) == set(SECTIONS):
        docs = ROOT / "docs" / "benchmarks.md"
        docs.write_text(page)
        written.append(docs)
    print("\nwrote " + ", ".join(str(p) for p in written))


if __name__ == "__main__":
    sys.exit(main())
