"""Concurrent writers get distinct, contiguous version numbers and no error.

16 threads and 4 processes register versions of one prompt at once, both for a name
that does not exist yet (everyone races to create it) and for an existing one.
"""

from __future__ import annotations

import multiprocessing
import threading

import pytest

import prompthouse
from prompthouse.registry import Registry

THREADS = 16
PROCESSES = 4
PER_WORKER = 10


def _register_with(registry: Registry, name: str, count: int, barrier: object) -> list[int]:
    barrier.wait()  # type: ignore[attr-defined]
    return [registry.register_prompt(name, f"{{{{ q }}}} #{i}").version for i in range(count)]


def _register_many(uri: str, name: str, count: int, barrier: object) -> list[int]:
    registry = prompthouse.connect(uri)
    try:
        return _register_with(registry, name, count, barrier)
    finally:
        registry.close()


def _process_worker(uri: str, name: str, count: int, barrier: object, out: object) -> None:
    try:
        out.put(("ok", _register_many(uri, name, count, barrier)))  # type: ignore[attr-defined]
    except Exception as exc:  # reported to the parent, which fails the test
        out.put(("error", repr(exc)))  # type: ignore[attr-defined]


def _run_threads(uri: str, name: str) -> list[int]:
    """Threads share one registry (and its connection pool), as a server's do."""
    barrier = threading.Barrier(THREADS)
    results: list[list[int]] = []
    errors: list[BaseException] = []
    registry = prompthouse.connect(uri)

    def work() -> None:
        try:
            results.append(_register_with(registry, name, PER_WORKER, barrier))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    registry.close()
    assert not errors, errors
    return [v for chunk in results for v in chunk]


def _run_processes(uri: str, name: str) -> list[int]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_process_worker, args=(uri, name, PER_WORKER, barrier, out))
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    answers = [out.get(timeout=180) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    errors = [detail for kind, detail in answers if kind == "error"]
    assert not errors, errors
    return [v for _, chunk in answers for v in chunk]


def _assert_contiguous(registry: Registry, name: str, numbers: list[int], start: int) -> None:
    assert sorted(numbers) == list(range(start, start + len(numbers))), "duplicates or gaps"
    stored = []
    page = registry.list_prompt_versions(name, max_results=1000)
    stored = [v.version for v in page]
    assert sorted(stored) == list(range(1, start + len(numbers)))


@pytest.mark.slow
def test_threads_race_on_a_new_and_an_existing_prompt(store_uri: str) -> None:
    numbers = _run_threads(store_uri, "race/threads")
    registry = prompthouse.connect(store_uri)
    try:
        _assert_contiguous(registry, "race/threads", numbers, 1)
        more = _run_threads(store_uri, "race/threads")
        _assert_contiguous(registry, "race/threads", more, 1 + len(numbers))
    finally:
        registry.close()


@pytest.mark.slow
def test_processes_race_on_a_new_and_an_existing_prompt(store_uri: str) -> None:
    numbers = _run_processes(store_uri, "race/procs")
    registry = prompthouse.connect(store_uri)
    try:
        _assert_contiguous(registry, "race/procs", numbers, 1)
        more = _run_processes(store_uri, "race/procs")
        _assert_contiguous(registry, "race/procs", more, 1 + len(numbers))
    finally:
        registry.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_processes_migrate_a_fresh_database_at_once(
    kind: str, tmp_path: object, request: pytest.FixtureRequest
) -> None:
    """Four processes opening one brand-new database all migrate and register cleanly."""
    if kind == "sqlite":
        uri = f"sqlite:///{tmp_path}/fresh.db"
    else:
        uri = request.getfixturevalue("fresh_postgres_url")
    numbers = _run_processes(uri, "fresh")
    registry = prompthouse.connect(uri)
    try:
        _assert_contiguous(registry, "fresh", numbers, 1)
    finally:
        registry.close()


@pytest.mark.slow
def test_only_one_writer_wins_an_expected_latest_race(store_uri: str) -> None:
    """Eight threads all register "after version 1": exactly one may, the rest conflict."""
    registry = prompthouse.connect(store_uri)
    registry.register_prompt("cas-race", "v1")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            registry.register_prompt("cas-race", "next", expected_latest_version=1)
            outcomes.append("won")
        except prompthouse.ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
        assert [v.version for v in registry.list_prompt_versions("cas-race")] == [2, 1]
    finally:
        registry.close()
