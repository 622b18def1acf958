"""The Celery app. Runs go to a ``gpu`` or ``cpu`` queue (see ``services.experiments.queue_for``).

Start a GPU worker per GPU, pinned and one run at a time::

    CUDA_VISIBLE_DEVICES=0 celery -A webapp worker -Q gpu -c 1 -n gpu0@%h

or ``python manage.py start_workers`` which starts one per visible GPU (and CPU workers).
A worker asked to stop (SIGTERM, Ctrl-C) does not wait for its runs to end: its runs checkpoint and hand
themselves back to the queue at their next step (``experiments/worker_stop.py``, ``services.runs``), then it exits.
Every worker also runs a small reaper thread that requeues runs whose worker went silent (and HPO studies whose
every worker did; a study's lost trials are retried by its own tasks, see ``services/studies.py``).
"""
from __future__ import annotations

import os
import threading

from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown, worker_shutting_down

from webapp.experiments import worker_stop  # made here, in the main process, so every pool child shares its flag

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["webapp.experiments"])

_reaper_stop = threading.Event()


def _reaper_loop(interval: float) -> None:
    """Look for runs whose heartbeat stopped and requeue them; any live worker does it."""
    from django.db import close_old_connections

    from webapp.experiments.services.experiments import requeue_lost_runs

    while not _reaper_stop.wait(interval):
        try:
            close_old_connections()
            requeue_lost_runs()
        except Exception:  # a DB hiccup must not kill the worker; try again next round
            import logging

            logging.getLogger("nasboard.reaper").exception("requeue_lost_runs failed")
        finally:
            close_old_connections()


@worker_ready.connect
def _start_reaper(**_: object) -> None:
    from django.conf import settings

    _reaper_stop.clear()
    thread = threading.Thread(target=_reaper_loop, args=(settings.NASBOARD_REAPER_SECONDS,), name="nasboard-reaper", daemon=True)
    thread.start()


@worker_shutdown.connect
def _stop_reaper(**_: object) -> None:
    _reaper_stop.set()


@worker_shutting_down.connect
def _stop_runs(**_: object) -> None:
    """Warm, soft or cold, a stopping worker's runs hand themselves back at their next step."""
    worker_stop.request()


@worker_process_init.connect
def _child_learns_of_stops(**_: object) -> None:
    worker_stop.install_child_handler()
