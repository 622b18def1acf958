"""The Celery app. Runs go to a ``gpu`` or ``cpu`` queue (see ``services.experiments.queue_for``).

Start a GPU worker per GPU, pinned and one run at a time::

    CUDA_VISIBLE_DEVICES=0 celery -A webapp worker -Q gpu -c 1 -n gpu0@%h

or ``python manage.py start_workers`` which starts one per visible GPU (and CPU workers).
Every worker also runs a small reaper thread that requeues runs whose worker went silent (and HPO studies whose
every worker did; a study's lost trials are retried by its own tasks, see ``services/studies.py``).
"""
from __future__ import annotations

import os
import threading

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

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
