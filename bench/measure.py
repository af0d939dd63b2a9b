"""Timing: samples taken in interleaved rounds, summarized as median, p99 and spread.

Every figure is taken after a warm-up, in several rounds; when systems are compared,
each round takes its share of samples from every system in turn, so a burst of load from
something else on the machine hits all of them rather than one. A figure is the median
of all samples, its p99 (nearest rank), and its *spread*: half the range of the
per-round medians, as a fraction of the overall median (how far the figure would move if
it were taken from one round only).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

#: A sampler takes ``n`` and returns ``n`` samples (microseconds per call).
Sampler = Callable[[int], list[float]]


@dataclass(frozen=True)
class Stats:
    """One figure: median and p99 of its samples, and the spread of its round medians."""

    median: float
    p99: float
    spread: float
    samples: int
    unit: str = "us"

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def summarize(rounds: list[list[float]], unit: str = "us") -> Stats:
    """Median, p99 and spread of samples grouped by round (empty rounds are ignored)."""
    rounds = [r for r in rounds if r]
    ordered = sorted(s for r in rounds for s in r)
    median = statistics.median(ordered)
    medians = [statistics.median(r) for r in rounds]
    spread = (max(medians) - min(medians)) / 2 / median if median else 0.0
    return Stats(median, percentile(ordered, 0.99), spread, len(ordered), unit)


def per_call(fn: Callable[[], object]) -> Sampler:
    """Time each call on its own: for calls of tens of microseconds and up (HTTP)."""

    def sample(n: int) -> list[float]:
        out = []
        clock = time.perf_counter_ns
        for _ in range(n):
            start = clock()
            fn()
            out.append((clock() - start) / 1000)
        return out

    return sample


def calibrate(fn: Callable[[], object], min_seconds: float) -> int:
    """How many calls of ``fn`` in a row take at least ``min_seconds``."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= min_seconds:
            return number
        number *= 2


def batched(fn: Callable[[], object], batch: int) -> Sampler:
    """Each sample is the mean per call of ``batch`` calls in a row, garbage collector off.

    For in-process calls of a few microseconds, where one call is too short to time on
    its own (the clock costs about as much as the call).
    """

    def sample(n: int) -> list[float]:
        out = []
        clock = time.perf_counter_ns
        calls = range(batch)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(n):
                start = clock()
                for _ in calls:
                    fn()
                out.append((clock() - start) / 1000 / batch)
        finally:
            if was_enabled:
                gc.enable()
        return out

    return sample


def compare(samplers: dict[str, tuple[Sampler, int]], rounds: int, warmup: int = 3,
            pause: float = 0.0) -> dict[str, Stats]:
    """Take ``n`` samples from each ``name: (sampler, n)`` in ``rounds`` interleaved rounds.

    Each sampler first runs ``warmup`` samples that are thrown away. ``pause`` seconds
    separate one system's turn from the next (lets a peer's background work settle).
    """
    for sampler, _ in samplers.values():
        sampler(warmup)
    taken: dict[str, list[list[float]]] = {name: [] for name in samplers}
    for r in range(rounds):
        for name, (sampler, n) in samplers.items():
            share = n // rounds + (1 if r < n % rounds else 0)
            taken[name].append(sampler(share))
            if pause:
                time.sleep(pause)
    return {name: summarize(rs) for name, rs in taken.items()}
