"""The benchmark harness still works: ``python -m bench --quick --smoke`` end to end.

Timings are never asserted (benchmarks never fail on a timing); only that every section
ran and was reported, in the console tables and in the JSON file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TABLES = [
    "SDK over HTTP, caches off (per call)",
    "Search, a page of up to 100",
    "In-process (per call)",
    "Throughput comparisons (GET by alias)",
    "Throughput runs",
    "Scaling (prompthouse server)",
    "Scaling comparisons",
    "Targets",
]
SECTIONS = ["sdk", "search", "in_process", "throughput", "scaling", "throughput_runs",
            "scaling_points"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_bench_smoke_reports_every_section(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="the benchmark compares against MLflow")
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    for title in TABLES:
        assert f"## {title}" in out.stdout, title
    results = list(tmp_path.glob("*-smoke.json"))
    assert len(results) == 1, sorted(p.name for p in tmp_path.iterdir())
    data = json.loads(results[0].read_text())
    for section in SECTIONS:
        assert data["sections"].get(section), section
    assert data["targets"] and all(t["target"]["met"] in (True, False) for t in data["targets"])
    operations = {row["operation"] for row in data["sections"]["sdk"]}
    assert {"cold load by alias", "cold load by version", "register a version",
            "create a prompt", "set an alias"} <= operations
    machine = data["meta"]["machine"]
    assert machine["cores"] and machine["versions"]["mlflow"]
    assert (tmp_path / results[0].name.replace(".json", ".md")).read_text().startswith("# ")
