"""`python manage.py bench_studies --workers 1|2 --trials N`: how many trials per minute an HPO study runs on N real
Celery workers.

It starts ``--workers`` worker processes (one task at a time each, one CPU thread each) on queues of its own, creates
a tabular study through the same service the API uses, waits for it to end and prints its throughput: over the whole
study (from its creation: queueing, every trial, the result) and over its trials (first start to last end, from
Optuna's times).  The database and broker are the configured ones (a PostgreSQL and Redis, as in a deployment:
SQLite cannot share a study between processes well).  Everything it made is deleted.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import override_settings

from webapp.experiments.models import ENDED_STATUSES, Experiment
from webapp.experiments.services import studies
from webapp.experiments.services.optuna_storage import load_study

ROOT = Path(__file__).resolve().parents[4]


def _start_workers(count: int, prefix: str, logs: Path) -> list[tuple[subprocess.Popen[bytes], Path]]:
    workers = []
    env = {**os.environ, "NASBOARD_QUEUE_PREFIX": prefix, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    for i in range(count):
        log = logs / f"worker-{i}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", f"{prefix}cpu,{prefix}gpu", "-c", "1",
             "-n", f"bench{i}-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        workers.append((proc, log))
    return workers


def _wait_ready(workers: list[tuple[subprocess.Popen[bytes], Path]], timeout: float = 120) -> None:
    """Wait until every worker says it is ready."""
    deadline = time.time() + timeout
    for proc, log in workers:
        while " ready." not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.time() > deadline:
                raise CommandError(f"a worker did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)


class Command(BaseCommand):
    help = "Run a tabular HPO study on N real workers and print its trials per minute."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--trials", type=int, default=30)
        parser.add_argument("--dataset", default="breast_cancer")
        parser.add_argument("--min-epochs", type=int, default=1)
        parser.add_argument("--max-epochs", type=int, default=3)
        parser.add_argument("--pruner", default="hyperband")
        parser.add_argument("--sampler", default="tpe")
        parser.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
            self.stderr.write("note: SQLite serialises the workers' writes; measure on PostgreSQL (DATABASE_URL)")
        prefix = f"bench-{os.getpid()}-"
        logs = Path(tempfile.mkdtemp(prefix="nasboard-bench-studies-"))
        user, made_user = get_user_model().objects.get_or_create(username="bench-studies")
        workers = _start_workers(options["workers"], prefix, logs)
        exp = None
        try:
            _wait_ready(workers)
            cfg = {"problem": "tabular", "dataset": options["dataset"], "trials": options["trials"],
                   "min_epochs": options["min_epochs"], "max_epochs": options["max_epochs"],
                   "pruner": options["pruner"], "sampler": options["sampler"], "seed": 0}
            with override_settings(NASBOARD_QUEUE_PREFIX=prefix, NASBOARD_STUDY_TASKS=options["workers"],
                                   NASBOARD_MAX_CONCURRENT_RUNS=10**6):
                started = time.time()
                exp = studies.create_study(user, cfg, name=f"bench {options['workers']} workers")
            deadline = started + options["timeout"]
            while True:
                exp.refresh_from_db()
                if exp.status in ENDED_STATUSES:
                    break
                if time.time() > deadline:
                    raise CommandError(f"the study did not end within {options['timeout']} s")
                time.sleep(0.2)
            wall = time.time() - started
            self._report(exp, wall, options["workers"])
        finally:
            for proc, _ in workers:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc, _ in workers:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            if exp is not None:
                Experiment.objects.filter(pk=exp.pk).delete()
            if made_user:
                user.delete()

    def _report(self, exp: Experiment, wall: float, workers: int) -> None:
        trials = load_study(exp).get_trials(deepcopy=False)
        done = [t for t in trials if t.datetime_start and t.datetime_complete]
        states: dict[str, int] = {}
        for t in trials:
            states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
        span = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
        mean = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done) / len(done)
        epochs = sum(len(t.intermediate_values) for t in trials)
        self.stdout.write(
            f"{workers} worker(s), {exp.config['dataset']}, {len(trials)} trials ({states}), {epochs} epochs, "
            f"status {exp.status}\n"
            f"  whole study: {wall:.1f} s from creation to its end = {len(trials) / wall * 60:.1f} trials/min\n"
            f"  trials only: {span:.1f} s from the first start to the last end = {len(done) / span * 60:.1f} "
            f"trials/min; a trial takes {mean:.2f} s on average")
