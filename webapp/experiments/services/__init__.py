"""Domain actions, by module: ``experiments`` (check, create, queue, cancel, resume, requeue), ``runs`` (what a worker
does with a delivered run), ``retrain``, ``curation``, ``studies`` (HPO studies and their trial tasks).

Callers outside the package may use the names of ``experiments`` as the package's own (``services.create_experiment``);
the others are imported from their modules (``services.runs.run_dispatched``). Modules inside the package import the
module they need, never this one.
"""
from webapp.experiments.services.experiments import (  # noqa: F401
    DEVICES,
    RUN_TASK,
    SERVER_FIELDS,
    STUDY_TASK,
    ActionRefused,
    BrokerUnavailable,
    ExperimentInvalid,
    artifact_dir,
    cancel_experiment,
    check_run_limit,
    clean_config,
    clean_name,
    create_experiment,
    queue_for,
    requeue_lost_runs,
    resume_experiment,
    send_run,
)
