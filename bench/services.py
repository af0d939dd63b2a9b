"""The systems under test, as real processes on loopback, and the PostgreSQL schema.

Every server runs in a process group of its own, so stopping it also stops what it
started (``mlflow server`` runs uvicorn and a job runner as children; ``--workers 2``
forks workers). Logs go to files in the run's temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import sqlalchemy as sa

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

BARE_APP = '''"""The ceiling of the stack: FastAPI answering a constant."""
from fastapi import FastAPI

app = FastAPI()


@app.get("/constant")
async def constant():
    return {"ok": True}
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """A server process: started in its own process group, ready when ``ready_path`` answers."""

    def __init__(self, label: str, args: list[str], port: int, ready_path: str, workdir: Path,
                 env: dict[str, str] | None = None) -> None:
        self.label = label
        self.args = args
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ready_path = ready_path
        self.log_path = workdir / f"{label.replace(' ', '-')}.log"
        self.workdir = workdir
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.args, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, **self.env}, start_new_session=True,
            )
        return self

    def wait_ready(self, seconds: float = 180) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited ({self.proc.returncode}):\n"
                                   + self.log_tail())
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} did not come up in {seconds:.0f} s:\n"
                           + self.log_tail())

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def terminate(self) -> None:
        """Ask the server's process group to stop (:meth:`stop` waits for it)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def rss_mb(self) -> float:
        """Resident memory of the server and its child processes (VmRSS), in MiB."""
        assert self.proc is not None
        return sum(_vm_rss_kib(pid) for pid in _process_tree(self.proc.pid)) / 1024


    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its child processes."""
        assert self.proc is not None
        return sum(_cpu_ticks(pid) for pid in _process_tree(self.proc.pid)) / _TICKS

    def wait_idle(self, interval: float = 0.1, busy: float = 0.1, seconds: float = 30) -> None:
        """Wait until the server uses under ``busy`` of a core over ``interval`` seconds
        (a slow server may still be working off requests a load run left queued)."""
        deadline = time.monotonic() + seconds
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(interval)
            now = self.cpu_seconds()
            if now - before <= busy * interval:
                return
            before = now


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    return 0


def _process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            todo.extend(int(c) for c in children)
    return pids


def _vm_rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@contextlib.contextmanager
def running(*services: Service) -> Iterator[tuple[Service, ...]]:
    """Start the services together, wait until every one answers, stop them all after."""
    try:
        for service in services:
            service.start()
        for service in services:
            service.wait_ready()
        yield services
    finally:
        for service in services:
            service.terminate()
        for service in services:
            service.stop()


def mlflow_server(workdir: Path, db_name: str = "mlflow.db") -> Service:
    """``mlflow server`` on SQLite, one worker, access log off (as for every server here).

    Its job runner (two huey consumers for MLflow's background jobs, which the prompt
    registry never uses) is off: it only slowed the start down."""
    port = free_port()
    return Service("mlflow", [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{workdir / db_name}",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--uvicorn-opts", "--no-access-log",
    ], port, "/health", workdir, env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})


def prompthouse_server(label: str, store_uri: str, workdir: Path, workers: int = 1
                       ) -> Service:
    """``prompthouse serve`` (httptools + uvloop) with log level warning: no access log."""
    port = free_port()
    return Service(label, [
        sys.executable, "-m", "prompthouse", "serve", "--host", "127.0.0.1",
        "--port", str(port), "--store", store_uri, "--workers", str(workers),
        "--log-level", "warning",
    ], port, "/healthz", workdir)


def bare_server(workdir: Path, workers: int = 1) -> Service:
    """The ceiling: a FastAPI route returning a constant, uvicorn with httptools + uvloop."""
    (workdir / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    return Service(f"bare fastapi {workers}w", [
        sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--http", "httptools",
        "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
    ], port, "/constant", workdir)


def engine_for(store_uri: str) -> sa.Engine:
    """A SQLAlchemy engine on a prompthouse store URI (psycopg 3 for PostgreSQL)."""
    url = sa.make_url(store_uri)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url)


class PostgresUnavailable(Exception):
    """The PostgreSQL server cannot be reached (the reason is the message)."""


@contextlib.contextmanager
def postgres_schema(url: str, prefix: str = "ph_bench") -> Iterator[str]:
    """A URL scoped to a fresh schema (``?options=-csearch_path=...``), dropped after.

    Raises :class:`PostgresUnavailable` when the server cannot be reached.
    """
    admin = engine_for(url).execution_options(isolation_level="AUTOCOMMIT")
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise PostgresUnavailable(str(exc.orig).strip().splitlines()[0]) from None
    try:
        scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
