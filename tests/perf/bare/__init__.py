"""The yardstick: a bare Django JSON view, no database, the default middleware.

Served by gunicorn beside the site in the load benchmark
(tests/perf/test_load_benchmark.py), so every page's figures are read as a
ratio to what Django itself costs on the same machine in the same run.
"""
