"""What a run found, and how it is shown: console tables, Markdown, JSON.

A :class:`Comparison` is one figure of prompthouse against a peer (MLflow, the bare
FastAPI ceiling, or prompthouse itself at a smaller size), with the target it is judged
by, if any. Throughput runs and scaling points keep their raw figures too. The same
rows render as aligned text for the console and as Markdown for ``bench/results`` and
``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.measure import Stats

Check = Literal["faster", "at_most", "at_least", "below"]


@dataclass(frozen=True)
class Target:
    """A target: ``faster``: prompthouse at least ``bound`` times better than the peer;
    ``at_most`` / ``at_least``: the ratio prompthouse / peer of the medians against
    ``bound``; ``below``: prompthouse's median under ``bound`` (in its unit)."""

    text: str
    check: Check
    bound: float


@dataclass
class Comparison:
    section: str
    operation: str
    store: str
    ours: Stats
    peer: Stats | None
    peer_name: str
    higher_is_better: bool = False
    target: Target | None = None

    @property
    def ratio(self) -> float:
        """prompthouse / peer, of the medians."""
        if self.peer is None or not self.peer.median:
            return math.nan
        return self.ours.median / self.peer.median

    @property
    def advantage(self) -> float:
        """How many times better prompthouse is (below 1: the peer is better)."""
        return self.ratio if self.higher_is_better else 1 / self.ratio

    def verdict(self) -> str:
        if self.peer is None:
            return ""
        good = "more req/s" if self.higher_is_better else "faster"
        if self.advantage >= 1:
            return f"prompthouse {self.advantage:,.1f}x {good}"
        return f"{self.peer_name} {1 / self.advantage:,.1f}x {good}"

    def met(self) -> bool | None:
        t = self.target
        if t is None:
            return None
        if t.check == "below":
            return self.ours.median < t.bound
        if t.check == "faster":
            return self.advantage >= t.bound
        if t.check == "at_most":
            return self.ratio <= t.bound
        return self.ratio >= t.bound

    def measured(self) -> str:
        """The figure the target is judged on."""
        t = self.target
        if t is None:
            return ""
        if t.check == "below":
            return fmt(self.ours)
        if t.check == "faster":
            return f"{self.advantage:,.1f}x"
        return f"{self.ratio:.2f}x"

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section, "operation": self.operation, "store": self.store,
            "prompthouse": self.ours.to_dict(),
            "peer_name": self.peer_name,
            "peer": self.peer.to_dict() if self.peer else None,
            "ratio_prompthouse_over_peer": _finite(self.ratio),
            "better": "higher" if self.higher_is_better else "lower",
            "verdict": self.verdict(),
            "target": None if self.target is None else {
                "text": self.target.text, "check": self.target.check,
                "bound": self.target.bound, "measured": self.measured(), "met": self.met()},
        }


@dataclass
class LoadRun:
    """GET-by-alias (or the constant) under load: req/s and p99 latency (ms) over reps."""

    system: str
    store: str
    workers: int
    connections: int
    rps: Stats
    p99_ms: float
    errors: int

    def to_dict(self) -> dict[str, Any]:
        return {"system": self.system, "store": self.store, "workers": self.workers,
                "connections": self.connections, "rps": self.rps.to_dict(),
                "p99_ms": _finite(self.p99_ms), "errors": self.errors}


@dataclass
class ScalePoint:
    """prompthouse at one size: get-by-alias and register latency, server memory."""

    store: str
    axis: Literal["prompts", "versions"]
    size: int
    alias: Stats
    reference: Stats  # get-by-alias on the small reference server, measured alongside
    register: Stats
    rss_mb: float

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "axis": self.axis, "size": self.size,
                "get_by_alias": self.alias.to_dict(), "reference": self.reference.to_dict(),
                "register": self.register.to_dict(), "rss_mb": round(self.rss_mb, 1)}


@dataclass
class Report:
    meta: dict[str, Any]
    comparisons: list[Comparison] = field(default_factory=list)
    load_runs: list[LoadRun] = field(default_factory=list)
    scale_points: list[ScalePoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        sections: dict[str, Any] = {}
        for row in self.comparisons:
            sections.setdefault(row.section, []).append(row.to_dict())
        sections["throughput_runs"] = [r.to_dict() for r in self.load_runs]
        sections["scaling_points"] = [p.to_dict() for p in self.scale_points]
        targets = [row.to_dict() for row in self.comparisons if row.target]
        return json.dumps({"meta": self.meta, "sections": sections, "targets": targets,
                           "notes": self.notes}, indent=2, allow_nan=False)

    # --- tables ---------------------------------------------------------------------------

    def comparison_table(self, sections: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
        headers = ["operation", "store", "vs", "peer median", "peer p99", "ph median",
                   "ph p99", "spread ph/peer", "ph / peer", "which is better", "target",
                   "met"]
        rows = []
        for r in self.comparisons:
            if r.section not in sections:
                continue
            peer = r.peer
            rows.append([
                r.operation, r.store, r.peer_name, fmt(peer) if peer else "",
                fmt(peer, "p99") if peer else "", fmt(r.ours), fmt(r.ours, "p99"),
                f"±{r.ours.spread:.0%} / ±{peer.spread:.0%}" if peer else f"±{r.ours.spread:.0%}",
                f"{r.ratio:.3g}" if peer else "", r.verdict(),
                r.target.text if r.target else "", _met(r.met()),
            ])
        return headers, rows

    def throughput_table(self) -> tuple[list[str], list[list[str]]]:
        levels = sorted({r.connections for r in self.load_runs})
        headers = ["server", "store", "workers"]
        for c in levels:
            headers += [f"c={c} req/s", f"c={c} p99"]
        rows: dict[tuple[str, str, int], list[str]] = {}
        for r in self.load_runs:
            row = rows.setdefault((r.system, r.store, r.workers),
                                  [r.system, r.store, str(r.workers)] + [""] * 2 * len(levels))
            i = 3 + 2 * levels.index(r.connections)
            row[i] = f"{r.rps.median:,.0f} ±{r.rps.spread:.0%}" + (
                f" ({r.errors} errors)" if r.errors else "")
            row[i + 1] = f"{r.p99_ms:.2f} ms"
        return headers, list(rows.values())

    def scaling_table(self) -> tuple[list[str], list[list[str]]]:
        headers = ["store", "size", "get-by-alias median", "p99", "vs reference now",
                   "vs smallest", "register median", "p99", "server RSS"]
        rows = []
        first: dict[tuple[str, str], Stats] = {}
        for p in self.scale_points:
            base = first.setdefault((p.store, p.axis), p.alias)
            rows.append([
                p.store, f"{p.size:,} {p.axis}", fmt(p.alias), fmt(p.alias, "p99"),
                f"{p.alias.median / p.reference.median:.2f}x",
                f"{p.alias.median / base.median:.2f}x", fmt(p.register),
                fmt(p.register, "p99"), f"{p.rss_mb:.0f} MiB",
            ])
        return headers, rows

    def target_table(self) -> tuple[list[str], list[list[str]]]:
        headers = ["target", "row", "store", "measured", "met"]
        rows = [[r.target.text, r.operation, r.store, r.measured(), _met(r.met())]
                for r in self.comparisons if r.target]
        return headers, rows

    def blocks(self, targets_first: bool = False
               ) -> list[tuple[str, tuple[list[str], list[list[str]]]]]:
        """Every table with its title (empty ones left out); the targets summary last,
        or first for a page."""
        out = [
            ("SDK over HTTP, caches off (per call)", self.comparison_table(("sdk",))),
            ("Search, a page of up to 100", self.comparison_table(("search",))),
            ("In-process (per call)", self.comparison_table(("in_process",))),
            ("Throughput comparisons (GET by alias)", self.comparison_table(("throughput",))),
            ("Throughput runs", self.throughput_table()),
            ("Scaling (prompthouse server)", self.scaling_table()),
            ("Scaling comparisons", self.comparison_table(("scaling",))),
        ]
        targets = ("Targets", self.target_table())
        out = [targets, *out] if targets_first else [*out, targets]
        return [(title, table) for title, table in out if table[1]]


def fmt(stats: Stats, which: Literal["median", "p99"] = "median") -> str:
    value = getattr(stats, which)
    if stats.unit == "req/s":
        return f"{value:,.0f}/s"
    if value >= 1000:
        return f"{value / 1000:,.2f} ms"
    if value >= 10:
        return f"{value:.0f} µs"
    return f"{value:.2f} µs"


def _met(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "MISSED")


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)
