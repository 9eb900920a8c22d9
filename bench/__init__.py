"""The benchmark: what one agent step costs over raw Celery, and how it scales.

Run it with `python -m bench.run` (see docs/benchmarks.md). It starts its own workers and
daphne on its own database (xantuus_bench) and Redis db (14); it never touches the tests' ones.
"""
