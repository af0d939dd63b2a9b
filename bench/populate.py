"""Filling the systems before a measurement, each through its fastest means.

- Search set, prompthouse: the embedded SDK (``prompthouse.connect(store_uri)``) on the
  database the server serves, ``register_prompt`` per prompt: the public API without
  HTTP in between; then ``ANALYZE`` on PostgreSQL.
- Search set, MLflow: its REST API, the two requests that create a prompt
  (``registered-models/create`` with the prompt tags, ``model-versions/create`` with
  the template tags, exactly what ``mlflow.genai.register_prompt`` sends, without its
  read-backs and polling), from 4 threads. MLflow's own Python store in-process was no
  faster (12 ms against 15 ms a prompt).
- The search set is the same on both: a tenth of the prompts share a name prefix, and
  another tenth, independent of it, a ``team`` tag value.
- Scaling filler, prompthouse only: rows inserted in bulk straight into prompthouse's
  tables (``prompts``, ``prompt_versions``, ``prompt_tags``, ``aliases``) with SQLAlchemy
  Core in one transaction, so 100,000 prompts take seconds instead of minutes. The
  measured operations then go through the real server. PostgreSQL gets ``ANALYZE``
  afterwards, as autovacuum would do on its own a little later.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import sqlalchemy as sa

import prompthouse
from bench.services import engine_for
from prompthouse.stores.sql import aliases_t, prompt_tags_t, prompts_t, versions_t

SEARCH_TEMPLATE = "Answer {{ question }} for team {{ team }}."
_CHUNK = 5_000


def search_name(i: int) -> str:
    """Names of the search set: ``bs-<i % 10>-<i>``, so ``bs-3-%`` matches a tenth."""
    return f"bs-{i % 10}-{i:06d}"


def search_team(i: int) -> str:
    """Tag ``team`` of the search set: a tenth each, independent of the name prefix (a tag
    that follows the name order would favour or punish plans that walk the name index)."""
    return f"team-{i // 10 % 10}"


def prompthouse_search_set(store_uri: str, count: int) -> None:
    """``count`` prompts of the search set, through the embedded SDK (then ``ANALYZE`` on
    PostgreSQL, so the plans measured are the ones autovacuum's statistics lead to)."""
    registry = prompthouse.connect(store_uri)
    try:
        for i in range(count):
            registry.register_prompt(search_name(i), SEARCH_TEMPLATE, commit_message="search set",
                                     tags={"team": search_team(i)})
    finally:
        registry.close()
    engine = engine_for(store_uri)
    try:
        with engine.begin() as conn:
            _finish(conn)
    finally:
        engine.dispose()


def mlflow_search_set(url: str, count: int, threads: int = 4) -> None:
    """``count`` prompts of the search set, through MLflow's REST API."""
    with httpx.Client(base_url=url.rstrip("/") + "/api/2.0/mlflow", timeout=60,
                      limits=httpx.Limits(max_connections=threads)) as client:

        def create(i: int) -> None:
            name, team = search_name(i), search_team(i)
            client.post("/registered-models/create", json={
                "name": name, "description": "search set",
                "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"},
                         {"key": "team", "value": team}],
            }).raise_for_status()
            client.post("/model-versions/create", json={
                "name": name, "source": "dummy-source", "description": "search set",
                "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"},
                         {"key": "mlflow.prompt.text", "value": SEARCH_TEMPLATE},
                         {"key": "_mlflow_prompt_type", "value": "text"},
                         {"key": "team", "value": team}],
            }).raise_for_status()

        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(create, range(count)):
                pass


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start:start + _CHUNK]


def _finish(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("ANALYZE"))


def filler_prompts(engine: sa.Engine, start: int, stop: int) -> None:
    """Bulk-insert prompts ``filler/p<start>`` .. ``filler/p<stop - 1>``: one text version
    each, a tag, and every third one an alias ``production``."""
    if start >= stop:
        return
    now = time.time_ns() // 1_000_000
    names = [f"filler/p{i:07d}" for i in range(start, stop)]
    with engine.begin() as conn:
        for chunk in _chunks([{"name": n, "description": "filler", "created_at": now,
                               "updated_at": now, "created_by": None, "next_version": 2}
                              for n in names]):
            conn.execute(prompts_t.insert(), chunk)
        ids = conn.execute(
            sa.select(prompts_t.c.id, prompts_t.c.name)
            .where(prompts_t.c.name.between(names[0], names[-1]))
        ).all()
        versions, tags, aliases = [], [], []
        for pid, name in ids:
            number = int(name.rsplit("p", 1)[1])
            versions.append({"prompt_id": pid, "version": 1, "template_type": "text",
                             "template": f"Filler {number}: answer {{{{ question }}}}",
                             "commit_message": "filler", "model_config": None,
                             "response_format": None, "created_at": now, "updated_at": now,
                             "created_by": None, "deleted_at": None})
            tags.append({"prompt_id": pid, "key": "n", "value": str(number % 10)})
            if number % 3 == 0:
                aliases.append({"prompt_id": pid, "alias": "production", "version": 1,
                                "updated_at": now, "updated_by": None})
        for table, rows in ((versions_t, versions), (prompt_tags_t, tags),
                            (aliases_t, aliases)):
            for chunk in _chunks(rows):
                conn.execute(table.insert(), chunk)
        _finish(conn)


def filler_versions(engine: sa.Engine, name: str, count: int) -> None:
    """Bulk-insert ``count`` more versions of the existing prompt ``name``, numbered from
    its version counter on (which then moves past them)."""
    if count <= 0:
        return
    now = time.time_ns() // 1_000_000
    with engine.begin() as conn:
        pid, first = conn.execute(
            sa.select(prompts_t.c.id, prompts_t.c.next_version)
            .where(prompts_t.c.name == name)
        ).one()
        rows = [{"prompt_id": pid, "version": v, "template_type": "text",
                 "template": f"Version {v}: answer {{{{ question }}}}",
                 "commit_message": "filler", "model_config": None, "response_format": None,
                 "created_at": now, "updated_at": now, "created_by": None, "deleted_at": None}
                for v in range(first, first + count)]
        for chunk in _chunks(rows):
            conn.execute(versions_t.insert(), chunk)
        conn.execute(prompts_t.update().where(prompts_t.c.id == pid)
                     .values(next_version=first + count))
        _finish(conn)
