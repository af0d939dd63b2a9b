"""Per-call latency through each product's Python SDK, over HTTP, caches off.

MLflow's side is ``mlflow.genai`` against ``mlflow server``; prompthouse's is
``prompthouse.connect("http://...")`` against ``prompthouse serve`` on each store. The
functions have the same names and arguments (prompthouse mirrors ``mlflow.genai``), so
each operation below is written once and run on every system. Reads pass
``cache_ttl_seconds=0``, which on both sides neither reads nor fills the client cache;
neither server caches prompts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench import populate
from bench.measure import compare, per_call
from bench.report import Comparison, Target
from bench.run import ALIAS_URI, NAME, TEMPLATE, VERSION_URI, Run

MLFLOW = "MLflow"


def _ops() -> list[tuple[str, Callable[[Any], Callable[[], object]], bool, Target | None]]:
    """(operation, registry -> call, is a write, target) for each per-call operation."""

    def create(registry: Any) -> Callable[[], object]:
        names = (f"bench-new-{i}" for i in itertools.count())
        return lambda: registry.register_prompt(next(names), TEMPLATE, commit_message="new")

    def set_alias(registry: Any) -> Callable[[], object]:
        versions = itertools.cycle((1, 3))
        return lambda: registry.set_prompt_alias(NAME, "staging", next(versions))

    return [
        ("cold load by alias",
         lambda r: lambda: r.load_prompt(ALIAS_URI, cache_ttl_seconds=0), False,
         Target("≥30x faster than MLflow", "faster", 30)),
        ("cold load by version",
         lambda r: lambda: r.load_prompt(VERSION_URI, cache_ttl_seconds=0), False,
         Target("≥20x faster than MLflow", "faster", 20)),
        ("register a version",
         lambda r: lambda: r.register_prompt(NAME, TEMPLATE, commit_message="bench"), True,
         Target("≥15x faster than MLflow", "faster", 15)),
        ("create a prompt", create, True, None),
        ("set an alias", set_alias, True, None),
    ]


def check_same_answers(systems: dict[str, Any]) -> None:
    """Every system serves the same seeded prompt (the measurements compare like with like)."""
    for label, registry in systems.items():
        for uri in (ALIAS_URI, VERSION_URI):
            got = registry.load_prompt(uri, cache_ttl_seconds=0)
            if int(got.version) != 2 or got.template != TEMPLATE:
                raise RuntimeError(f"{label} answered {uri} with version {got.version}")


def per_call_section(run: Run, systems: dict[str, Any], bare_url: str) -> None:
    """Cold loads, register, create, set alias; and the alias load against a bare round trip.

    ``systems``: ``{"MLflow": mlflow.genai, "<store>": prompthouse remote registry, ...}``.
    """
    p = run.profile
    check_same_answers(systems)
    bare = httpx.Client(base_url=bare_url)
    try:
        for operation, make, writes, target in _ops():
            run.say(f"per call: {operation}")
            samplers = {}
            for label, registry in systems.items():
                if label == MLFLOW:
                    n = p.mlflow_creates if operation == "create a prompt" else (
                        p.mlflow_writes if writes else p.mlflow_reads)
                else:
                    n = p.ph_writes if writes else p.ph_reads
                samplers[label] = (per_call(make(registry)), n)
            if operation == "cold load by alias":
                samplers["bare"] = (per_call(lambda: bare.get("/constant").raise_for_status()),
                                    p.ph_reads)
            stats = compare(samplers, p.rounds, warmup=p.warmup, pause=0.05)
            for label in systems:
                if label == MLFLOW:
                    continue
                run.report.comparisons.append(Comparison(
                    "sdk", operation, label, stats[label], stats[MLFLOW], MLFLOW,
                    target=target))
                if operation == "cold load by alias":
                    run.report.comparisons.append(Comparison(
                        "sdk", "cold load by alias vs a bare FastAPI round trip", label,
                        stats[label], stats["bare"], "bare FastAPI",
                        target=Target("within 1.5x of the bare round trip", "at_most", 1.5)))
    finally:
        bare.close()


SEARCHES = [  # (operation, filter, which of the search set's prompts match)
    ("search by name pattern", "name LIKE 'bs-3-%'",
     lambda i: populate.search_name(i).startswith("bs-3-")),
    ("search by tag", "tags.team = 'team-3'", lambda i: populate.search_team(i) == "team-3"),
]


def search_section(run: Run, systems: dict[str, Any], store_uris: dict[str, str],
                   mlflow_url: str) -> None:
    """A page of up to 100 out of ``search_size`` prompts, by name pattern and by tag.

    Populates MLflow (REST, in a thread) while prompthouse's stores fill (embedded SDK).
    """
    p = run.profile
    run.say(f"search: populating {p.search_size:,} prompts on every system")
    with ThreadPoolExecutor(1) as pool:
        mlflow_done = pool.submit(populate.mlflow_search_set, mlflow_url, p.search_size)
        for uri in store_uris.values():
            populate.prompthouse_search_set(uri, p.search_size)
        mlflow_done.result()
    for operation, filter_string, matches in SEARCHES:
        expected = min(100, sum(1 for i in range(p.search_size) if matches(i)))
        for label, registry in systems.items():
            found = len(registry.search_prompts(filter_string, max_results=100))
            if found != expected:
                raise RuntimeError(f"{label}: {filter_string!r} found {found}, not {expected}")
        run.say(f"search: {operation}")
        stats = compare({
            label: (per_call(lambda r=registry, f=filter_string: r.search_prompts(
                f, max_results=100)), p.mlflow_searches if label == MLFLOW else p.ph_searches)
            for label, registry in systems.items()
        }, p.rounds, warmup=p.warmup, pause=0.05)
        for label in systems:
            if label != MLFLOW:
                run.report.comparisons.append(Comparison(
                    "search", operation, label, stats[label], stats[MLFLOW], MLFLOW,
                    target=Target("≥10x faster than MLflow", "faster", 10)))
