"""Gunicorn settings for the web container: ``gunicorn -c deploy/gunicorn.conf.py``.

Every number can be changed from the environment without a new image. The
command line wins over this file (tests bind to 127.0.0.1 with ``--bind``).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

wsgi_app = "mensc.wsgi:application"
# Inside a container: every interface of the container's own network, which
# only nginx or the Kubernetes Service reaches. Outside one, pass --bind.
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")


def cpu_limit() -> int:
    """CPUs this process may use: the cgroup quota (a container's limit) if any.

    os.cpu_count() reports the host's CPUs, which in a pod limited to one CPU
    would start far too many workers.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus or 1, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit
    return cpus or 1


# Threads, since requests mostly wait on PostgreSQL, Redis and the network.
# Each thread keeps its own connection to each of the two databases
# (CONN_MAX_AGE), so workers x threads x 2 connections per instance: size
# PostgreSQL's max_connections (or a pgbouncer) for the number of replicas.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or cpu_limit() * 2 + 1)
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# A worker silent for this long is killed and replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# SIGTERM (docker stop, a rolling update) stops taking new connections and lets
# requests in flight finish for up to this long; Kubernetes'
# terminationGracePeriodSeconds and compose's stop_grace_period are longer.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
# Idle kept-alive connections close after this. nginx drops its idle upstream
# connections sooner (4 s, nginx.conf), so it never sends a request on one that
# gunicorn is closing.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Load the app once in the master and fork the workers from it: the code and
# everything imported are shared by every worker until written to, instead of
# being imported again by each (measured: ~20 MB less unshared memory a
# worker, ~8 MB less RSS; deploy notes). Deploys replace the container, so
# nothing relies on HUP reloading the code, which a preloaded app would not.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() not in {"0", "false", "no"}


def pre_fork(server: object, worker: object) -> None:
    # What the master imported goes to the collector's permanent generation, so a
    # worker's garbage collections never write to (and so copy) those pages.
    gc.freeze()


# Recycle workers now and then, so a slow leak never becomes an outage.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# Worker heartbeats in memory: the root filesystem is read-only in Kubernetes.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# Both logs to the container's stdout/stderr as JSON lines (mensc.log).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
logger_class = "mensc.log.GunicornLogger"
proc_name = "mensc-web"
# No runtime control socket (gunicornc): it would be written under $HOME, which
# is read-only in the image, and orchestration is docker's or Kubernetes' job.
control_socket_disable = True
