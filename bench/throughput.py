"""Server throughput: GET-by-alias under a load generator on loopback.

Each server answers the same request over and over: prompthouse's
``GET /api/v1/prompts/bench-qa/aliases/production`` (1 and 2 workers), MLflow's
``GET /api/2.0/mlflow/registered-models/alias?name=bench-qa&alias=production`` (one
worker), and a bare FastAPI route returning a constant (1 and 2 workers: the ceiling of
the stack). Every server gets one warm-up run first; then, for each concurrency, the
servers take turns, ``load_reps`` times, so load from elsewhere on the machine is shared.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from bench import loadgen
from bench.measure import summarize
from bench.report import Comparison, LoadRun, Target
from bench.run import NAME, Run
from bench.services import Service

ALIAS_PATH = f"/api/v1/prompts/{NAME}/aliases/production"
MLFLOW_ALIAS_PATH = f"/api/2.0/mlflow/registered-models/alias?name={NAME}&alias=production"


@dataclass(frozen=True, eq=False)
class Endpoint:
    system: str  # "prompthouse", "MLflow", "bare FastAPI"
    store: str
    workers: int
    server: Service
    path: str

    def load(self, connections: int, seconds: float) -> loadgen.LoadResult:
        """One load run, then a wait until the server has worked off what it queued."""
        result = loadgen.run(self.server.url + self.path, connections, seconds)
        self.server.wait_idle()
        return result


def throughput_section(run: Run, endpoints: list[Endpoint]) -> None:
    p = run.profile
    if p.load_warmup:
        for e in endpoints:
            run.say(f"throughput: warming up {e.system} {e.store} {e.workers}w")
            e.load(8, max(1.0, p.load_seconds / 2))
    taken: dict[tuple[Endpoint, int], list[loadgen.LoadResult]] = defaultdict(list)
    for c in p.connections:
        for rep in range(p.load_reps):
            run.say(f"throughput: {c} connections, run {rep + 1} of {p.load_reps}")
            for e in endpoints:
                taken[e, c].append(e.load(c, p.load_seconds))
    runs: dict[tuple[str, str, int, int], LoadRun] = {}
    for (e, c), results in taken.items():
        rps = summarize([[r.rps] for r in results], unit="req/s")
        load = LoadRun(e.system, e.store, e.workers, c, rps,
                       sorted(r.p99_ms for r in results)[len(results) // 2],
                       sum(r.errors for r in results))
        run.report.load_runs.append(load)
        runs[e.system, e.store, e.workers, c] = load
    for (system, store, workers, c), load in runs.items():
        if system != "prompthouse":
            continue
        label = (f"GET by alias, {c} connection{'s' if c > 1 else ''}, "
                 f"{workers} worker{'s' if workers > 1 else ''}")
        mlflow = runs.get(("MLflow", "sqlite", 1, c))
        if mlflow is not None:
            run.report.comparisons.append(Comparison(
                "throughput", label, store, load.rps, mlflow.rps, "MLflow (1 worker)",
                higher_is_better=True))
        bare = runs.get(("bare FastAPI", "-", workers, c))
        if bare is not None:
            run.report.comparisons.append(Comparison(
                "throughput", label, store, load.rps, bare.rps,
                f"bare FastAPI ({workers}w)", higher_is_better=True,
                target=Target("≥ half the bare FastAPI ceiling", "at_least", 0.5)))
