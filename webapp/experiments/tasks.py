"""Celery tasks. The task is a thin shell: ``runs.run_dispatched`` does the work."""
from __future__ import annotations

from celery import shared_task

from webapp.experiments.services import experiments, runs, studies


@shared_task(bind=True, name="experiments.run_experiment", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_experiment(self, experiment_id: int, dispatch: int) -> str:  # type: ignore[no-untyped-def]
    """Run one experiment; late ack so a lost worker's run is delivered again and resumes."""
    try:
        return runs.run_dispatched(experiment_id, dispatch, worker=self.request.hostname)
    finally:
        from django.db import close_old_connections

        close_old_connections()


@shared_task(bind=True, name="experiments.run_study_trials", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def run_study_trials(self, experiment_id: int, dispatch: int) -> str:  # type: ignore[no-untyped-def]
    """Take an HPO study's trials until it needs none (``studies.run_study_trials``); late ack as for a run. A lost
    worker's trial is failed and retried once by the study's other tasks, or by the tasks the reaper sends when
    the whole study went silent; ``dispatch`` is not checked (any task may help a running study)."""
    try:
        return studies.run_study_trials(experiment_id, worker=self.request.hostname)
    finally:
        from django.db import close_old_connections

        close_old_connections()


@shared_task(name="experiments.requeue_lost_runs", ignore_result=True)
def requeue_lost_runs() -> list[int]:
    """For a beat schedule, if one prefers it to the reaper thread every worker runs."""
    return experiments.requeue_lost_runs()
