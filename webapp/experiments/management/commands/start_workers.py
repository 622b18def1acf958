"""`python manage.py start_workers`: one Celery worker per GPU (pinned, one run at a time) plus CPU workers.

This is how a machine joins the pool: point DATABASE_URL and REDIS_URL at the shared
servers, NASBOARD_ARTIFACT_DIR at the shared artifact folder, and run this command.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webapp.experiments.management.children import kill_after, on_stop_signals, terminate_running


def visible_gpus() -> list[str]:
    """GPU ids this machine offers: CUDA_VISIBLE_DEVICES if set, else torch's count."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # no torch or no driver: no GPUs
        return []


def worker_command(name: str, queue: str, concurrency: int, loglevel: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", queue, "-c", str(concurrency), "-n", f"{name}@%h",
            "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle", "-l", loglevel]


class Command(BaseCommand):
    help = "Start one worker per GPU on the gpu queue (CUDA_VISIBLE_DEVICES pinned, concurrency 1) and CPU workers on the cpu queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--gpus", default=None, help="comma-separated GPU ids (default: every visible GPU; 'none' for none)")
        parser.add_argument("--cpu-workers", type=int, default=None, help="CPU workers (default: 1 when there is no GPU, else 0)")
        parser.add_argument("--cpu-concurrency", type=int, default=1, help="runs at once per CPU worker")
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args: Any, **options: Any) -> None:
        gpus = visible_gpus() if options["gpus"] is None else ([] if options["gpus"] == "none" else options["gpus"].split(","))
        cpu_workers = options["cpu_workers"] if options["cpu_workers"] is not None else (0 if gpus else 1)
        if cpu_workers < 0 or options["cpu_concurrency"] < 1:
            raise CommandError("--cpu-workers must be at least 0 and --cpu-concurrency at least 1")
        if not gpus and not cpu_workers:
            raise CommandError("nothing to start: no GPU found and --cpu-workers 0")
        prefix = settings.NASBOARD_QUEUE_PREFIX
        specs: list[tuple[list[str], dict[str, str]]] = []
        for gpu in gpus:
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
            specs.append((worker_command(f"gpu{gpu}", prefix + "gpu", 1, options["loglevel"]), env))
        for i in range(cpu_workers):
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # a CPU worker never grabs a GPU
            # share the cores instead of oversubscribing them (torch takes them all by default)
            env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // (cpu_workers * options["cpu_concurrency"]))))
            specs.append((worker_command(f"cpu{i}", prefix + "cpu", options["cpu_concurrency"], options["loglevel"]), env))
        procs = [subprocess.Popen(cmd, env=env) for cmd, env in specs]
        self.stdout.write(f"started {len(gpus)} GPU worker(s) {gpus or ''} and {cpu_workers} CPU worker(s); Ctrl-C stops them")

        stopping = False
        # a worker told to stop hands its running searches back at the next step; past this it is killed
        deadline = 0.0

        def stop(signum: int, _frame: Any) -> None:
            nonlocal stopping, deadline
            if not stopping:
                deadline = time.monotonic() + settings.NASBOARD_STOP_GRACE_SECONDS + 5
            stopping = True
            terminate_running(procs)

        on_stop_signals(stop)
        while True:
            for i, p in enumerate(procs):
                if p.poll() is not None and not stopping:
                    # a crashed worker is restarted; its run is picked up again via the heartbeat
                    self.stderr.write(f"worker {i} exited with {p.returncode}; restarting it in 5 s")
                    time.sleep(5)
                    procs[i] = subprocess.Popen(*[specs[i][0]], env=specs[i][1])
            if stopping and kill_after(procs, deadline):
                return
            time.sleep(1)
