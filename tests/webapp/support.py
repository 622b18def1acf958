"""Plain helpers shared by the dashboard test modules: logging a test client in, API tokens, the new-experiment form's
data, experiments stored without being sent to a worker, waiting for a run to end, and pointing the server away from
its benchmark tables.
(Fixtures are in conftest.py; the Chromium helpers in browser_support.py.)"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from django.conf import settings
from django.test import Client, override_settings

from webapp.experiments import services
from webapp.experiments.models import ENDED_STATUSES, ApiToken, Experiment, Status


def login(client: Client, user: Any) -> Client:
    """The client, logged in as ``user``: lets a test chain ``login(client, alice).get(...)``."""
    client.force_login(user)
    return client


def token_for(user: Any) -> dict[str, str]:
    """Request headers that authenticate as ``user`` with a freshly issued API token."""
    _, key = ApiToken.issue(user)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


# the training settings every valid post of the new-experiment form carries
_FORM_TRAINING = {"w_lr": 0.025, "alpha_lr": 0.0003, "seed": 0, "device": "cpu", "order": "1", "w_lr_min": 0.001,
                  "w_momentum": 0.9, "w_weight_decay": 0.0003, "alpha_weight_decay": 0.001, "grad_clip": 5.0,
                  "train_portion": 0.5}
#: a valid form post: a small DARTS search on s3 and digits
SEARCH_FORM = {"name": "from the form", "space": "s3", "optimizer": "darts", "dataset": "digits", "epochs": 3,
               "batch_size": 32, "channels": 4, "layers": 3, "steps_per_epoch": 4, **_FORM_TRAINING}
#: a valid form post: regularized evolution on the NAS-Bench-201 CIFAR-10 table, 4 runs of 50 queries
TABLE_SEARCH_FORM = {"name": "table search", "space": "nb201", "optimizer": "re", "dataset": "cifar10", "epochs": 10,
                     "batch_size": 64, "evaluator": "table", "budget": 50, "runs": 4, **_FORM_TRAINING}


def form_data(base: dict[str, Any] = SEARCH_FORM, **changes: Any) -> dict[str, Any]:
    """What a browser posts to /experiments/new: a valid ``base`` form with ``changes`` on top."""
    return {**base, **changes}


def unsent_experiment(owner: Any, name: str, config: dict[str, Any], status: str = Status.QUEUED) -> Experiment:
    """A validated experiment whose message is never sent: the session's live worker (``shared_worker``) would
    otherwise take runs that a test means to drive, or to fill with events, itself."""
    cfg = services.clean_config(config)
    return Experiment.objects.create(owner=owner, name=name, config=cfg, space=cfg["space"], optimizer=cfg["optimizer"],
                                     dataset=cfg["dataset"], seed=cfg["seed"], device_requested=cfg["device"],
                                     queue="not-sent", epochs=cfg["epochs"], status=status, dispatch=1)


def ended(pk: int) -> Experiment | None:
    """The experiment once it has ended (finished, stopped early, cancelled or failed), else None: a ``wait_for``
    predicate."""
    exp = Experiment.objects.get(pk=pk)
    return exp if exp.status in ENDED_STATUSES else None


def no_table() -> Any:
    """Settings under which the server finds no benchmark table (a folder below the current one, never imported to)."""
    return override_settings(NASBOARD_BENCHMARK_DIR=Path(settings.NASBOARD_BENCHMARK_DIR) / "elsewhere")


def in_a_thread_of_its_own(call: Callable[[], Any]) -> Any:
    """``call()`` in a new thread, its result or its exception returned here: code that starts an event loop
    (``asyncio.run``, Django's async_to_sync) cannot run in a thread where one already runs, and the session's
    Playwright browser keeps one running in the main thread of a test process that has used it."""
    import threading

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as it is
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
