"""How much faster is prompthouse's ``PromptVersion.format`` than MLflow's?

Times MLflow 3.17.2's ``mlflow.entities.model_registry.PromptVersion.format`` and
prompthouse's ``PromptVersion.format`` side by side, in one process, on the same templates
and values: a short text template with two variables, a two-message chat template and a
small Jinja2 template. Prints the median and min per call in microseconds, the ratio
MLflow / prompthouse (of the medians) and whether the target speed-up is met. Then times
a warm ``load_prompt`` by alias (a cache hit) on a SQLite registry.

    python -m bench.format_bench [--quick]

A benchmark, not a test: it never fails on a timing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prompthouse
from prompthouse import PromptVersion

TEXT = "Hello {{ name }}, please answer this question: {{ question }}"
CHAT = [
    {"role": "system", "content": "You are a helpful assistant for {{ company }}."},
    {"role": "user", "content": "{{ question }}"},
]
JINJA = "Hello {% if name %}{{ name }}{% else %}Guest{% endif %}!"


@dataclass
class Case:
    label: str
    template: Any
    values: dict[str, Any]
    target: float  # MLflow time / prompthouse time to reach


CASES = [
    Case("text, 2 variables", TEXT, {"name": "Ann", "question": "What is MLflow?"}, 3.0),
    Case("chat, 2 messages", CHAT, {"company": "Acme", "question": "Where is my order?"}, 3.0),
    Case("jinja, if/else", JINJA, {"name": "Ann"}, 50.0),
]


@dataclass
class Timing:
    median_us: float
    min_us: float


def measure(fn: Callable[[], object], repeat: int, min_seconds: float) -> Timing:
    """Per-call median and min (µs) over ``repeat`` runs of a calibrated loop."""
    timer = timeit.Timer(fn)
    number = 1
    while True:  # grow the loop until one run takes at least min_seconds
        if timer.timeit(number) >= min_seconds:
            break
        number *= 2
    runs = [t / number * 1e6 for t in timer.repeat(repeat=repeat, number=number)]
    return Timing(statistics.median(runs), min(runs))


def load_mlflow_prompt_version() -> type | None:
    try:
        from mlflow.entities.model_registry import PromptVersion as MlflowPromptVersion
    except ImportError:
        return None
    return MlflowPromptVersion


def bench_format(repeat: int, min_seconds: float) -> None:
    mlflow_cls = load_mlflow_prompt_version()
    if mlflow_cls is None:
        print("mlflow is not installed (pip install -e '.[dev]'): "
              "timing prompthouse only.\n")
    else:
        import mlflow

        print(f"MLflow {mlflow.__version__} vs prompthouse {prompthouse.__version__}, "
              f"Python {sys.version.split()[0]}; {repeat} repeats per figure\n")

    header = (f"{'case':<20} {'MLflow med':>11} {'MLflow min':>11} {'ph med':>9} "
              f"{'ph min':>9} {'ratio':>8} {'target':>7}  met")
    print("format(), microseconds per call")
    print(header)
    print("-" * len(header))
    for case in CASES:
        ours = PromptVersion("bench", 1, case.template)
        expected = ours.format(**case.values)
        ph = measure(lambda o=ours, v=case.values: o.format(**v), repeat, min_seconds)
        if mlflow_cls is None:
            print(f"{case.label:<20} {'-':>11} {'-':>11} {ph.median_us:>9.2f} "
                  f"{ph.min_us:>9.2f} {'-':>8} {case.target:>6.0f}x  -")
            continue
        theirs = mlflow_cls("bench", 1, case.template)
        same = theirs.format(**case.values) == expected
        ml = measure(lambda t=theirs, v=case.values: t.format(**v), repeat, min_seconds)
        ratio = ml.median_us / ph.median_us
        met = "yes" if ratio >= case.target else "NO"
        note = "" if same else "  (outputs differ!)"
        print(f"{case.label:<20} {ml.median_us:>11.2f} {ml.min_us:>11.2f} "
              f"{ph.median_us:>9.2f} {ph.min_us:>9.2f} {ratio:>7.1f}x "
              f"{case.target:>6.0f}x  {met}{note}")
    print("ratio = MLflow median / prompthouse median; 'met' when ratio >= target")


def bench_load_prompt(repeat: int, min_seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="prompthouse-bench-") as tmp:
        registry = prompthouse.connect("sqlite:///" + str(Path(tmp) / "bench.db"))
        try:
            registry.register_prompt("bench-qa", TEXT, commit_message="bench")
            registry.set_prompt_alias("bench-qa", "production", 1)
            uri = "prompts:/bench-qa@production"
            first = registry.load_prompt(uri)  # fills the cache
            assert first is not None and first.version == 1
            warm = measure(lambda: registry.load_prompt(uri), repeat, min_seconds)
            cold = measure(lambda: registry.load_prompt(uri, cache_ttl_seconds=0),
                           repeat, min_seconds)
        finally:
            registry.close()
    print(f"\nload_prompt({uri!r}) on SQLite, microseconds per call")
    print(f"  {'warm (cache hit)':<22} median {warm.median_us:8.2f}   min {warm.min_us:8.2f}")
    print(f"  {'cold (cache bypassed)':<22} median {cold.median_us:8.2f}   min {cold.min_us:8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer, shorter runs (a smoke check, noisier figures)")
    args = parser.parse_args(argv)
    repeat, min_seconds = (3, 0.02) if args.quick else (9, 0.1)
    bench_format(repeat, min_seconds)
    bench_load_prompt(repeat, min_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
