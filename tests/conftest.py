"""Shared fixtures: real stores (a SQLite file, the PostgreSQL server, an MLflow server)
behind a Registry.

PostgreSQL comes from ``PROMPTHOUSE_TEST_POSTGRES_URL`` (default: the server on
127.0.0.1:5432, database ``test``). Each test session works in a schema of its own,
dropped at the end. One real ``mlflow server`` (SQLite, a free loopback port) is
started per session, emptied before each test that uses it. Without a service, tests
that need it skip with a reason, except under ``CI=true``, where a missing service
fails the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from prompthouse.registry import Registry
from prompthouse.settings import Settings
from prompthouse.stores.sql import SqlStore

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get(
    "PROMPTHOUSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# Kinds of registry the contract suite runs on; "remote" is the SDK over HTTP to a live
# server on SQLite, "mlflow" the MLflow store over a real mlflow server. DB_KINDS are the
# databases (fixtures that need a store URI).
STORE_KINDS = ["sqlite", "postgres", "remote", "mlflow"]
DB_KINDS = ["sqlite", "postgres"]
# Contract tests that cannot apply to the MLflow store, skipped by name with the reason
# (tests/test_mlflow_store.py checks what MLflow can hold of each instead).
MLFLOW_INAPPLICABLE = {
    "test_folder_names_and_lookup_forms":
        "MLflow prompt names cannot contain '/' (no folders); the store refuses them clearly",
    "test_good_names":
        "it registers folder names ('team/sub/x.y'), which MLflow cannot hold",
    "test_search_by_mlflow_filter_grammar":
        "its seed holds the folder name 'team/triage', which MLflow cannot hold",
    "test_search_by_keyword_criteria_and_order":
        "its seed holds a folder name, and MLflow does not move a prompt's "
        "last_updated_timestamp when a tag is set",
    "test_import_keeps_numbers_and_timestamps":
        "MLflow numbers versions itself and keeps its own creation timestamps and user ids",
}
_TABLES = "aliases, version_tags, prompt_tags, prompt_versions, prompts"


def service_missing(what: str, why: str) -> None:
    """Skip on a laptop without the service; fail under CI=true."""
    message = f"{what} is not reachable ({why})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


def _with_search_path(url: str, schema: str) -> str:
    parsed = sa.make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL to a fresh schema on the real PostgreSQL server, dropped after the session."""
    yield from _postgres_schema()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A URL to a new, unmigrated schema of its own, dropped after the test."""
    yield from _postgres_schema()


def _postgres_schema() -> Iterator[str]:
    admin_url = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        service_missing("PostgreSQL at " + admin_url.render_as_string(), str(exc.orig)[:200])
    schema = f"ph_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(POSTGRES_URL, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_store(postgres_url: str) -> Iterator[SqlStore]:
    store = SqlStore(postgres_url)
    yield store
    store.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file; tests copy it instead of migrating each time."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    SqlStore(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def sqlite_uri(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "prompthouse.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _clean_postgres(store: SqlStore) -> None:
    with store._engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=DB_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """A database kind (``store_uri`` and friends need one: no "remote" here)."""
    return request.param


@pytest.fixture(params=STORE_KINDS)
def registry_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_uri(store_kind: str, request: pytest.FixtureRequest) -> str:
    """The URI of an empty store of each kind."""
    if store_kind == "sqlite":
        return request.getfixturevalue("sqlite_uri")
    store = request.getfixturevalue("postgres_store")
    _clean_postgres(store)
    return request.getfixturevalue("postgres_url")


def _local_registry(kind: str, request: pytest.FixtureRequest) -> Iterator[Registry]:
    """A registry of ``kind``; "remote": a RemoteRegistry over a live server on SQLite."""
    if kind == "remote":
        from prompthouse.remote import RemoteRegistry
        from prompthouse.server import create_app

        served = Registry(SqlStore(request.getfixturevalue("sqlite_uri")), Settings())
        server = LiveServer(create_app(served)).start()
        remote = RemoteRegistry(server.url, settings=Settings())
        yield remote  # type: ignore[misc]
        remote.close()
        server.stop()
        served.close()
    elif kind == "sqlite":
        store = SqlStore(request.getfixturevalue("sqlite_uri"))
        yield Registry(store, Settings())
        store.close()
    elif kind == "mlflow":
        reason = MLFLOW_INAPPLICABLE.get(getattr(request.node, "originalname", ""))
        if reason:
            pytest.skip(f"not applicable to the MLflow store: {reason}")
        yield request.getfixturevalue("mlflow_registry")
    else:
        store = request.getfixturevalue("postgres_store")
        _clean_postgres(store)
        yield Registry(store, Settings())


@pytest.fixture
def registry(registry_kind: str, request: pytest.FixtureRequest) -> Iterator[Registry]:
    """A registry on an empty store of each kind (the contract suite runs on each),
    including the remote SDK over a live server."""
    yield from _local_registry(registry_kind, request)


@pytest.fixture(params=["sqlite", "postgres"])
def server_registry(request: pytest.FixtureRequest) -> Iterator[Registry]:
    """The registry a test server serves: an empty SQLite file or PostgreSQL schema."""
    yield from _local_registry(request.param, request)


@pytest.fixture
def sqlite_registry(sqlite_uri: str) -> Iterator[Registry]:
    store = SqlStore(sqlite_uri)
    yield Registry(store, Settings())
    store.close()


# --- a real HTTP server on a free loopback port --------------------------------------


class LiveServer:
    """uvicorn serving an ASGI app on 127.0.0.1 in a background thread."""

    def __init__(self, app: object) -> None:
        import socket
        import threading

        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", http="httptools",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> LiveServer:
        import time

        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


@pytest.fixture
def live_server(server_registry: Registry) -> Iterator[LiveServer]:
    """prompthouse's app over ``server_registry`` (each store kind) on a loopback port."""
    from prompthouse.server import create_app

    server = LiveServer(create_app(server_registry)).start()
    yield server
    server.stop()


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[object]:
    import httpx

    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


# --- a real MLflow server -------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """``mlflow server`` on a SQLite file and a loopback port, in a process group of its
    own (it runs uvicorn and a job runner as children; stopping it stops them too)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store_uri = f"mlflow+{self.url}"
        self.log_path = workdir / f"mlflow-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> MlflowServer:
        """Start and wait for ``/health``; RuntimeError (with the log's end) if it fails."""
        import httpx

        args = [sys.executable, "-m", "mlflow", "server",
                "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
                "--default-artifact-root", str(self.workdir / "artifacts"),
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                "--uvicorn-opts", "--no-access-log"]
        # No job runner: prompts need none, and it costs a process and start-up time.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, cwd=self.workdir, stdout=log, env=env,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-600:]
        raise RuntimeError(f"mlflow server did not start on port {self.port}: {tail}")

    def stop(self) -> None:
        """Stop the server and its children (SIGTERM, then SIGKILL after 15 s)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real mlflow server (SQLite backend, free loopback port) for the session."""
    try:
        import mlflow  # noqa: F401
    except ImportError as exc:
        service_missing("mlflow server", f"mlflow is not installed: {exc}")
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    try:
        server.start()
    except (RuntimeError, OSError) as exc:
        service_missing("mlflow server", str(exc)[:300])
    yield server
    server.stop()


def clean_mlflow(url: str) -> None:
    """Delete every registered model of an MLflow server: prompts and models."""
    import httpx

    with httpx.Client(base_url=url + "/api/2.0/mlflow/", timeout=30) as client:
        for search in ({"filter": "tags.`mlflow.prompt.is_prompt` = 'true'"}, {}):
            while True:
                found = client.get("registered-models/search",
                                   params={"max_results": 1000, **search}).json()
                names = [m["name"] for m in found.get("registered_models", [])]
                if not names:
                    break
                for name in names:
                    client.request("DELETE", "registered-models/delete", json={"name": name})


@pytest.fixture
def mlflow_url(mlflow_server: MlflowServer) -> str:
    """The session's MLflow server, emptied for this test."""
    clean_mlflow(mlflow_server.url)
    return mlflow_server.url


@pytest.fixture
def mlflow_registry(mlflow_url: str) -> Iterator[Registry]:
    """A registry over the MLflow store on the session's (emptied) MLflow server."""
    from prompthouse.stores.mlflow import MlflowStore

    store = MlflowStore(mlflow_url)
    yield Registry(store, Settings())
    store.close()
