"""`prompthouse serve` as a user runs it: a real process on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = _free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "prompthouse", "serve", "--port", str(port), *extra],
        cwd=tmp_path, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url, log
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"serve did not come up: {log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_sqlite_by_default(tmp_path: Path, workers: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTHOUSE_STORE_URI", raising=False)
    # A client setting in the server's environment must not turn the server into a client.
    monkeypatch.setenv("PROMPTHOUSE_URL", "http://127.0.0.1:9")
    proc, url, log = _serve(tmp_path, "--workers", workers)
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            made = http.post("/api/v1/prompts", json={"name": "qa", "template": "Q {{ q }}"})
            assert made.status_code == 201
            for _ in range(6):  # spread over the workers: all see the same store
                assert http.get("/api/v1/prompts/qa/versions/1").status_code == 200
    finally:
        _stop(proc)
    assert (tmp_path / "prompthouse.db").exists()  # the default store, in the cwd
    text = log.read_text()
    assert "POST /api/v1/prompts 201" in text


def test_serve_refuses_a_bad_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("alias_cache_ttl_seconds: -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "prompthouse", "serve", "--config", str(bad), "--port", "1"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "alias_cache_ttl_seconds" in result.stderr
