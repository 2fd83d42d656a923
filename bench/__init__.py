"""Benchmark of the detector against its limit (see bench/run_bench.py)."""
