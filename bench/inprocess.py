"""In-process figures: a warm ``load_prompt`` (cache hit) and ``PromptVersion.format()``.

``format()`` compares MLflow's ``mlflow.entities.model_registry.PromptVersion`` with
prompthouse's ``PromptVersion`` on the same templates and values (outputs checked equal).
The warm hit compares ``mlflow.genai.load_prompt`` with prompthouse's remote SDK (and its
embedded registry), each on an alias it has loaded once, so the answer comes from its
in-process cache.
"""

from __future__ import annotations

from typing import Any

import prompthouse
from bench.measure import batched, calibrate, compare
from bench.report import Comparison, Target
from bench.run import ALIAS_URI, Run

TEXT = "Hello {{ name }}, please answer this question: {{ question }}"
CHAT = [
    {"role": "system", "content": "You are a helpful assistant for {{ company }}."},
    {"role": "user", "content": "{{ question }}"},
]
JINJA = "Hello {% if name %}{{ name }}{% else %}Guest{% endif %}!"

FORMAT_CASES = [
    ("format() text, 2 variables", TEXT, {"name": "Ann", "question": "What is MLflow?"},
     Target("≥3x faster than MLflow", "faster", 3)),
    ("format() chat, 2 messages", CHAT, {"company": "Acme", "question": "Where is my order?"},
     Target("≥3x faster than MLflow", "faster", 3)),
    ("format() Jinja, if/else", JINJA, {"name": "Ann"},
     Target("≥50x faster than MLflow", "faster", 50)),
]
MLFLOW = "MLflow"


def _micro(run: Run, calls: dict[str, Any]) -> dict[str, Any]:
    """Interleaved batched samples of each zero-argument call."""
    p = run.profile
    samplers = {label: (batched(fn, calibrate(fn, p.micro_batch_seconds)), p.micro_batches)
                for label, fn in calls.items()}
    return compare(samplers, p.rounds, warmup=p.warmup)


def format_section(run: Run) -> None:
    from mlflow.entities.model_registry import PromptVersion as MlflowPromptVersion

    for operation, template, values, target in FORMAT_CASES:
        ours = prompthouse.PromptVersion("bench", 1, template)
        theirs = MlflowPromptVersion("bench", 1, template)
        if ours.format(**values) != theirs.format(**values):
            raise RuntimeError(f"{operation}: prompthouse and MLflow disagree on the output")
        run.say(f"in process: {operation}")
        stats = _micro(run, {MLFLOW: lambda t=theirs, v=values: t.format(**v),
                             "ph": lambda o=ours, v=values: o.format(**v)})
        run.report.comparisons.append(Comparison(
            "in_process", operation, "-", stats["ph"], stats[MLFLOW], MLFLOW, target=target))


def warm_hit_section(run: Run, mlflow_genai: Any, remote: Any, embedded: Any) -> None:
    """Cache hits: ``remote`` is prompthouse's HTTP SDK, ``embedded`` its in-process registry
    on the same database; both answer :data:`ALIAS_URI` from their caches."""
    run.say("in process: warm cache hit")
    clients = {MLFLOW: mlflow_genai, "remote SDK": remote, "embedded": embedded}
    for client in clients.values():
        client.load_prompt(ALIAS_URI)  # fills the cache
    stats = _micro(run, {label: (lambda c=client: c.load_prompt(ALIAS_URI))
                         for label, client in clients.items()})
    for label in ("remote SDK", "embedded"):
        run.report.comparisons.append(Comparison(
            "in_process", f"warm cache hit, load_prompt by alias ({label})", "-",
            stats[label], stats[MLFLOW], MLFLOW, target=Target("under 2 µs", "below", 2.0)))
