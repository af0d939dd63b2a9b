"""How much work each mode does: full (the published table), --quick, --smoke."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Profile:
    name: str
    rounds: int  # interleaved rounds per figure
    warmup: int  # samples thrown away before each figure
    ph_reads: int  # samples of a prompthouse HTTP read
    ph_writes: int  # samples of a prompthouse HTTP write
    mlflow_reads: int
    mlflow_writes: int
    mlflow_creates: int  # MLflow creates a prompt in ~200 ms: fewer samples
    micro_batches: int  # in-process samples, each a batch of calls
    micro_batch_seconds: float  # a batch lasts at least this long
    search_size: int  # prompts in the search set
    ph_searches: int
    mlflow_searches: int
    load_seconds: float  # one load-generator run
    load_reps: int  # runs per server and concurrency
    load_warmup: bool  # one warm-up run per server first
    connections: tuple[int, ...]
    load_postgres: bool  # also throughput on PostgreSQL
    scale_prompts: tuple[int, ...]
    scale_versions: tuple[int, ...]
    scale_reads: int
    scale_writes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Profile(
    name="full", rounds=5, warmup=3,
    ph_reads=1000, ph_writes=300, mlflow_reads=150, mlflow_writes=100, mlflow_creates=50,
    micro_batches=300, micro_batch_seconds=0.002,
    search_size=10_000, ph_searches=300, mlflow_searches=60,
    load_seconds=5, load_reps=3, load_warmup=True, connections=(1, 8, 32), load_postgres=True,
    scale_prompts=(100, 1_000, 10_000, 100_000), scale_versions=(10, 1_000, 10_000),
    scale_reads=1000, scale_writes=200,
)
QUICK = Profile(
    name="quick", rounds=3, warmup=3,
    ph_reads=300, ph_writes=90, mlflow_reads=30, mlflow_writes=15, mlflow_creates=9,
    micro_batches=60, micro_batch_seconds=0.002,
    search_size=1_000, ph_searches=90, mlflow_searches=15,
    load_seconds=1, load_reps=1, load_warmup=True, connections=(1, 8, 32), load_postgres=False,
    scale_prompts=(100, 1_000, 10_000), scale_versions=(10, 1_000),
    scale_reads=300, scale_writes=60,
)
SMOKE = Profile(
    name="smoke", rounds=2, warmup=1,
    ph_reads=20, ph_writes=6, mlflow_reads=4, mlflow_writes=2, mlflow_creates=2,
    micro_batches=6, micro_batch_seconds=0.001,
    search_size=40, ph_searches=6, mlflow_searches=2,
    load_seconds=1, load_reps=1, load_warmup=False, connections=(8,), load_postgres=False,
    scale_prompts=(100, 300), scale_versions=(10, 100),
    scale_reads=20, scale_writes=6,
)
