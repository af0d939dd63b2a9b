"""Benchmarks of prompthouse against MLflow, side by side: ``python -m bench``.

Modules: ``profiles`` (how much work each mode does), ``measure`` (interleaved rounds,
median / p99 / spread), ``services`` (the servers as processes), ``populate`` (filling
them), ``sdk``, ``inprocess``, ``throughput`` and ``scaling`` (the sections), ``loadgen``
(wrk or a Python fallback), ``report`` and ``document`` (tables, JSON, Markdown).
A benchmark, not a test: it never fails on a timing.
"""
