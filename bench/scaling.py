"""Does prompthouse stay flat as the registry grows? Latency and memory by size.

Per store, two ``prompthouse serve`` processes (one worker each) on two databases:

- the *growing* one gets filler prompts (then versions of one prompt) bulk-inserted
  between measurements (see :mod:`bench.populate`); at each size the SDK over HTTP
  times get-by-alias (cache off) and register, and the server's RSS is read from
  ``/proc/<pid>/status``;
- the *reference* one stays at the smallest size and is timed alongside, in the same
  interleaved rounds, so "vs reference now" compares the two under the same machine
  load. The target (get-by-alias at the largest size within 20% of its time at 100
  prompts) is judged on that ratio; "vs smallest" (the same server earlier in the run) is
  printed too.

get-by-alias reads ``scale-target@production`` on the prompts axis and
``scale-deep@production`` (version 1 of many) on the versions axis; register adds a
version to the same prompt.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import prompthouse
from bench import populate
from bench.measure import compare, per_call
from bench.report import Comparison, ScalePoint, Target
from bench.run import Run
from bench.services import Service, engine_for, postgres_schema, prompthouse_server

TARGET, DEEP = "scale-target", "scale-deep"
TEMPLATE = "Scaled {{ question }}"


def _seed(store_uri: str, prompts: int, versions: int) -> None:
    """The two measured prompts (with ``versions`` versions of :data:`DEEP`) and filler up
    to ``prompts`` prompts in all."""
    registry = prompthouse.connect(store_uri)
    try:
        for name in (TARGET, DEEP):
            registry.register_prompt(name, TEMPLATE)
            registry.set_prompt_alias(name, "production", 1)
    finally:
        registry.close()
    engine = engine_for(store_uri)
    try:
        populate.filler_versions(engine, DEEP, versions - 1)
        populate.filler_prompts(engine, 0, prompts - 2)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Pair:
    """One store's growing and reference servers, on databases of their own."""

    store: str
    grow: Service
    grow_uri: str
    ref: Service
    ref_uri: str

    @property
    def services(self) -> tuple[Service, Service]:
        return self.grow, self.ref


def servers(run: Run, stack: contextlib.ExitStack) -> list[Pair]:
    """The (not yet started) server pairs, one per store; PostgreSQL schemas live as long
    as ``stack``."""
    pairs = []
    for store in ["sqlite"] + (["postgresql"] if run.postgres_url else []):
        if store == "sqlite":
            grow_uri = f"sqlite:///{run.workdir / 'scale-grow.db'}"
            ref_uri = f"sqlite:///{run.workdir / 'scale-ref.db'}"
        else:
            assert run.postgres_url is not None
            grow_uri = stack.enter_context(postgres_schema(run.postgres_url, "ph_bench_grow"))
            ref_uri = stack.enter_context(postgres_schema(run.postgres_url, "ph_bench_ref"))
        pairs.append(Pair(store, prompthouse_server(f"scale grow {store}", grow_uri, run.workdir),
                          grow_uri,
                          prompthouse_server(f"scale ref {store}", ref_uri, run.workdir),
                          ref_uri))
    return pairs


def scaling_section(run: Run, pairs: list[Pair]) -> None:
    """Measure each store in turn on its running pair of servers."""
    for pair in pairs:
        _scale_store(run, pair)


def _scale_store(run: Run, pair: Pair) -> None:
    p = run.profile
    store, grow, grow_uri, ref, ref_uri = (pair.store, pair.grow, pair.grow_uri, pair.ref,
                                           pair.ref_uri)
    smallest_prompts, smallest_versions = p.scale_prompts[0], p.scale_versions[0]
    _seed(grow_uri, smallest_prompts, smallest_versions)
    _seed(ref_uri, smallest_prompts, smallest_versions)
    engine = engine_for(grow_uri)
    grow_sdk, ref_sdk = prompthouse.connect(grow.url), prompthouse.connect(ref.url)
    try:
        points = []
        size = smallest_prompts
        for target_size in p.scale_prompts:
            run.say(f"scaling {store}: {target_size:,} prompts")
            populate.filler_prompts(engine, size - 2, target_size - 2)
            size = target_size
            points.append(_measure(run, store, "prompts", size, TARGET, grow, grow_sdk, ref_sdk))
        versions = smallest_versions
        for target_versions in p.scale_versions:
            run.say(f"scaling {store}: {target_versions:,} versions of one prompt")
            populate.filler_versions(engine, DEEP, target_versions - versions)
            versions = target_versions
            points.append(_measure(run, store, "versions", versions, DEEP, grow, grow_sdk,
                                   ref_sdk))
    finally:
        grow_sdk.close()
        ref_sdk.close()
        engine.dispose()
    run.report.scale_points.extend(points)
    for axis, smallest in (("prompts", smallest_prompts), ("versions", smallest_versions)):
        on_axis = [pt for pt in points if pt.axis == axis]
        largest = on_axis[-1]
        target = Target("within 20% of its time at the smallest size", "at_most", 1.2) \
            if axis == "prompts" else None
        run.report.comparisons.append(Comparison(
            "scaling", f"get-by-alias at {largest.size:,} vs {smallest:,} {axis}", store,
            largest.alias, largest.reference, f"{smallest:,} {axis} (reference)",
            target=target))


def _measure(run: Run, store: str, axis: str, size: int, name: str, grow: Service,
             grow_sdk: Any, ref_sdk: Any) -> ScalePoint:
    p = run.profile
    uri = f"prompts:/{name}@production"
    stats = compare({
        "alias": (per_call(lambda: grow_sdk.load_prompt(uri, cache_ttl_seconds=0)),
                  p.scale_reads),
        "reference": (per_call(lambda: ref_sdk.load_prompt(uri, cache_ttl_seconds=0)),
                      p.scale_reads),
        "register": (per_call(lambda: grow_sdk.register_prompt(name, TEMPLATE)),
                     p.scale_writes),
    }, p.rounds, warmup=p.warmup)
    return ScalePoint(store, axis, size, stats["alias"],  # type: ignore[arg-type]
                      stats["reference"], stats["register"], grow.rss_mb())

