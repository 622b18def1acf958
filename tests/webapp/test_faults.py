"""Faults injected into real runs: real Celery worker subprocesses on the test PostgreSQL and Redis, tiny searches.
Each test checks that nothing is lost or written twice (events numbered 1..N, every epoch once, the run finished)
and prints its figures (seconds), which ``pytest -s`` shows."""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import pytest
from django.db import connection
from django.test import override_settings

from tests.webapp.fault_support import assert_whole_history
from tests.webapp.support import ended
from webapp.experiments import services
from webapp.experiments.models import Event, Experiment, Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _figure(name: str, value: float) -> None:
    print(f"FIGURE {name}: {value:.1f}")


def _own_queues(tag: str) -> str:
    """A queue prefix of this test's own, so that no other test's worker takes its runs."""
    return os.environ["NASBOARD_QUEUE_PREFIX"] + tag + "-"


@pytest.mark.timeout(600)
def test_sigterm_checkpoints_and_requeues_the_run_which_resumes_elsewhere(
        start_worker: Callable[..., Any], alice: Any, tiny_config: dict[str, Any], wait_for: Callable[..., Any]) -> None:
    prefix = _own_queues("sigterm")
    first = start_worker("stopping", prefix)
    with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
        exp = services.create_experiment(alice, "stopped worker", {**tiny_config, "epochs": 5, "steps_per_epoch": 12})
    wait_for(lambda: Event.objects.filter(experiment=exp, type="checkpoint", payload__epoch=2).exists(), 240,
             "epoch 2's checkpoint")
    wait_for(lambda: Event.objects.filter(experiment=exp, type="step", payload__epoch=3).exists(), 60, "a step of epoch 3")
    first.terminate()  # SIGTERM to the worker's main process, as `docker compose stop` sends it
    asked = time.time()
    back = wait_for(lambda: Experiment.objects.filter(pk=exp.pk, status=Status.QUEUED, dispatch=2).first(), 30,
                    "the run to be handed back to the queue")
    requeued_after = time.time() - asked
    first.proc.wait(timeout=30)
    exited_after = time.time() - asked
    assert back.attempts == 0 and back.worker == ""  # a hand-back is not a lost attempt
    log = first.log()
    assert "handed the run back" in log and "WorkerLostError" not in log, log[-3000:]
    assert first.proc.returncode == 0
    start_worker("next", prefix)
    resumed = wait_for(lambda: Event.objects.filter(experiment=exp, type="run_started", payload__resumed=True).first(),
                       120, "the run to resume on the next worker")
    exp = wait_for(lambda: ended(exp.pk), 300, "the run to finish on the next worker")
    assert exp.status == Status.FINISHED, exp.error
    assert exp.worker.startswith("next") and exp.attempts == 1
    events = assert_whole_history(exp.pk, 5)
    starts = [e.payload for e in events if e.type == "run_started"]
    assert len(starts) == 2 and starts[1]["resumed"] and starts[1]["start_epoch"] == 2
    assert not [e for e in events if e.type == "log" and "cancelled" in str(e.payload.get("message"))]
    _figure("sigterm -> requeued (s)", requeued_after)
    _figure("sigterm -> worker exited (s)", exited_after)
    _figure("sigterm -> resumed on the next worker, incl. its start-up (s)", resumed.payload["time"] - asked)


def _terminate_backends(application_name: str) -> int:
    """End the worker's own PostgreSQL backends (found by the application_name its settings give them)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE application_name = %s AND pid <> pg_backend_pid()", [application_name])
        return int(cursor.fetchone()[0])


@pytest.mark.timeout(600)
def test_the_workers_database_connections_terminated_mid_run(
        start_worker: Callable[..., Any], alice: Any, tiny_config: dict[str, Any], wait_for: Callable[..., Any]) -> None:
    prefix = _own_queues("pgkill")
    worker = start_worker("pgkill", prefix)
    with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
        exp = services.create_experiment(alice, "connections cut", {**tiny_config, "epochs": 4, "steps_per_epoch": 10,
                                                                    "step_log_every": 1})
    wait_for(lambda: Event.objects.filter(experiment=exp, type="step", payload__epoch=2).exists(), 240, "epoch 2")
    terminated, rounds = 0, 0
    while rounds < 4 and not Experiment.objects.filter(pk=exp.pk, status=Status.FINISHED).exists():
        terminated += _terminate_backends(f"nasboard-worker-{worker.name}")
        rounds += 1
        time.sleep(1.5)
    assert terminated >= 2, "the worker had no connections to end"
    exp = wait_for(lambda: ended(exp.pk), 300, "the run to end")
    assert exp.status == Status.FINISHED, f"{exp.error}\n{worker.log()[-3000:]}"
    assert "retrying on a new one" in worker.log()  # a write of the run did meet a dead connection
    assert exp.attempts == 1  # survived in place: no requeue, no resume
    events = assert_whole_history(exp.pk, 4)
    assert len([e for e in events if e.type == "run_started"]) == 1
    _figure("backends terminated", terminated)
    _figure("writes retried", worker.log().count("retrying on a new one"))


@pytest.mark.timeout(420)
def test_a_corrupt_checkpoint_at_resume_fails_naming_it_and_keeps_the_previous(
        shared_worker: Any, alice: Any, tiny_config: dict[str, Any], wait_for: Callable[..., Any]) -> None:
    exp = services.create_experiment(alice, "corrupt", {**tiny_config, "epochs": 4, "steps_per_epoch": 10,
                                                        "step_log_every": 1})
    wait_for(lambda: Event.objects.filter(experiment=exp, type="checkpoint", payload__epoch=2).exists(), 240,
             "epoch 2's checkpoint")
    services.cancel_experiment(exp)
    exp = wait_for(lambda: ended(exp.pk), 60, "the run to stop")
    assert exp.status == Status.CANCELLED
    folder = services.artifact_dir(exp)
    latest, previous = folder / "checkpoint.pt", folder / "checkpoint.pt.prev"
    latest.write_bytes(latest.read_bytes()[:200])  # truncated, as by a crash of a writer that did not rename
    kept = previous.read_bytes()
    services.resume_experiment(exp)
    exp = wait_for(lambda: ended(exp.pk), 120, "the resume to fail")
    assert exp.status == Status.FAILED
    assert f"the checkpoint {latest} cannot be read" in exp.error and f"kept as {previous}" in exp.error, exp.error
    assert previous.read_bytes() == kept


@pytest.mark.timeout(420)
def test_a_full_disk_fails_the_run_with_the_reason(shared_worker: Any, alice: Any, tiny_config: dict[str, Any],
                                                   wait_for: Callable[..., Any]) -> None:
    """The checkpoint's temporary file is made a link to /dev/full (ENOSPC on every write, root or not)."""
    exp = services.create_experiment(alice, "disk full", {**tiny_config, "epochs": 3, "steps_per_epoch": 8})
    wait_for(lambda: Event.objects.filter(experiment=exp, type="checkpoint", payload__epoch=1).exists(), 240,
             "epoch 1's checkpoint")
    folder = services.artifact_dir(exp)
    (folder / "checkpoint.pt.tmp").symlink_to("/dev/full")
    exp = wait_for(lambda: ended(exp.pk), 120, "the run to fail")
    assert exp.status == Status.FAILED
    assert exp.error == f"cannot write checkpoint to {folder / 'checkpoint.pt'}: No space left on device", exp.error
    from nascore import checkpoint as ckpt

    assert ckpt.load(folder / "checkpoint.pt")["epoch"] == 1  # the last good checkpoint is still the latest
    assert not (folder / "checkpoint.pt.tmp").is_symlink() and not (folder / "checkpoint.pt.tmp").exists()
    last = Event.objects.filter(experiment=exp).order_by("-seq").first()
    assert last.type == "failed" and last.payload["reason"] == exp.error


@pytest.mark.timeout(900)
def test_redis_unreachable_for_a_while_with_runs_queued_and_running(
        start_worker: Callable[..., Any], alice: Any, bob: Any, tiny_config: dict[str, Any],
        wait_for: Callable[..., Any]) -> None:
    """The worker reaches Redis only through a proxy this test cuts for OUTAGE seconds; the shared server is never
    touched. The test's own dispatch goes to Redis directly, so a run can be queued during the outage too."""
    from urllib.parse import urlparse

    from tests.webapp.fault_support import TcpProxy

    outage = 25.0
    redis_url = urlparse(os.environ["REDIS_URL"])
    proxy = TcpProxy((redis_url.hostname or "127.0.0.1", redis_url.port or 6379))
    prefix = _own_queues("redis")
    worker = start_worker("redis", prefix, {"REDIS_URL": f"redis://127.0.0.1:{proxy.port}{redis_url.path}"})
    try:
        with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
            running = services.create_experiment(alice, "through the outage", {**tiny_config, "epochs": 6,
                                                                               "steps_per_epoch": 12})
            queued = [services.create_experiment(alice, f"queued {i}", {**tiny_config, "epochs": 2}) for i in range(2)]
        wait_for(lambda: Event.objects.filter(experiment=running, type="step", payload__epoch=2).exists(), 240,
                 "the first run's second epoch")
        epochs_before = Experiment.objects.get(pk=running.pk).epochs_done
        proxy.cut()
        cut_at = time.time()
        time.sleep(outage / 2)
        with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
            during = services.create_experiment(bob, "queued during the outage", {**tiny_config, "epochs": 2})
        time.sleep(outage / 2)
        epochs_during = Experiment.objects.get(pk=running.pk).epochs_done - epochs_before
        proxy.restore()
        restored_at = time.time()
        for exp in [running, *queued, during]:
            done = wait_for(lambda pk=exp.pk: ended(pk), 400, f"run {exp.name!r} to end")
            assert done.status == Status.FINISHED, f"{exp.name}: {done.error}\n{worker.log()[-3000:]}"
            assert done.attempts == 1
            assert_whole_history(exp.pk, done.epochs)
        starts = sorted(Experiment.objects.get(pk=e.pk).started_at.timestamp() for e in [*queued, during])
    finally:
        proxy.close()
    assert epochs_during >= 1  # the running search went on while Redis was away
    _figure("outage (s)", restored_at - cut_at)
    _figure("epochs of the running search during the outage", epochs_during)
    _figure("restore -> first queued run started (s)", starts[0] - restored_at)
    _figure("restore -> last queued run started (s)", starts[-1] - restored_at)


@pytest.mark.timeout(600)
def test_a_live_page_polls_through_a_web_server_restart(
        start_worker: Callable[..., Any], alice: Any, tiny_config: dict[str, Any], wait_for: Callable[..., Any]) -> None:
    import socket
    import subprocess
    import sys

    from tests.webapp.conftest import ROOT, test_database_url
    from tests.webapp.fault_support import EventPoller, wait_port
    from webapp.experiments.models import ApiToken

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "DATABASE_URL": test_database_url(),
           "DB_CONN_MAX_AGE": "0", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

    def serve() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload",
                                 "--skip-checks"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_port(port)
        return proc

    prefix = _own_queues("web")
    start_worker("web", prefix)
    _, key = ApiToken.issue(alice)
    server = serve()
    try:
        with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
            exp = services.create_experiment(alice, "watched", {**tiny_config, "epochs": 4, "steps_per_epoch": 10,
                                                                "step_log_every": 1})
        poller = EventPoller(f"http://127.0.0.1:{port}", exp.pk, key)
        poller.start()
        downtimes = []
        for epoch in (1, 3):  # restart twice, while events keep coming
            wait_for(lambda e=epoch: any(ev["type"] == "epoch" and ev["epoch"] == e for ev in poller.events), 240,
                     f"the page to see epoch {epoch}")
            server.terminate()
            server.wait(timeout=30)
            down = time.time()
            time.sleep(3)
            server = serve()
            downtimes.append(time.time() - down)
        exp = wait_for(lambda: ended(exp.pk), 300, "the run to end")
        wait_for(lambda: poller.events and poller.events[-1]["type"] == "finished", 60, "the page to see the end")
        poller.stop()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert exp.status == Status.FINISHED, exp.error
    stored = assert_whole_history(exp.pk, 4)
    assert [e["seq"] for e in poller.events] == [e.seq for e in stored]  # every event once, in order
    assert poller.errors and not poller.server_errors  # it did poll into the restarts; never a 5xx
    assert poller.history_revs == {0}
    _figure("events received by the page", len(poller.events))
    _figure("polls that failed while the server was down", len(poller.errors))
    _figure("longest downtime (s)", max(downtimes))


@pytest.mark.timeout(600)
def test_ctrl_c_on_make_run_hands_the_search_back_and_exits(
        start_worker: Callable[..., Any], alice: Any, tiny_config: dict[str, Any], wait_for: Callable[..., Any],
        worker_logs: Any) -> None:
    """`make run` is `manage.py run_dashboard` (web server + start_workers + a Celery worker); Ctrl-C in its terminal
    sends SIGINT to the whole process group."""
    import signal
    import socket
    import subprocess
    import sys

    from tests.webapp.conftest import ROOT, test_database_url

    prefix = _own_queues("ctrlc")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "DATABASE_URL": test_database_url(),
           "DB_CONN_MAX_AGE": "0", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "NASBOARD_QUEUE_PREFIX": prefix}
    log_path = worker_logs / f"run-dashboard-{os.getpid()}.log"
    with log_path.open("ab") as log:
        dashboard = subprocess.Popen([sys.executable, "manage.py", "run_dashboard", "--port", str(port)], cwd=ROOT,
                                     env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
            exp = services.create_experiment(alice, "make run", {**tiny_config, "epochs": 4, "steps_per_epoch": 12})
        wait_for(lambda: Event.objects.filter(experiment=exp, type="step", payload__epoch=2).exists(), 300,
                 "epoch 2 on make run's worker")
        os.killpg(dashboard.pid, signal.SIGINT)  # Ctrl-C
        asked = time.time()
        wait_for(lambda: Experiment.objects.filter(pk=exp.pk, status=Status.QUEUED, dispatch=2).exists(), 30,
                 "the run to be handed back")
        requeued_after = time.time() - asked
        dashboard.wait(timeout=60)
        exited_after = time.time() - asked
    finally:
        if dashboard.poll() is None:
            os.killpg(dashboard.pid, signal.SIGKILL)
            dashboard.wait()
    output = log_path.read_text(errors="replace")
    assert dashboard.returncode == 0, output[-3000:]
    assert "handed the run back" in output and "NASBoard stopped" in output
    start_worker("after-make-run", prefix)
    exp = wait_for(lambda: ended(exp.pk), 300, "the run to finish on the next worker")
    assert exp.status == Status.FINISHED, exp.error
    assert_whole_history(exp.pk, 4)
    _figure("ctrl-c -> requeued (s)", requeued_after)
    _figure("ctrl-c -> make run exited (s)", exited_after)


@pytest.mark.timeout(480)
def test_sigterm_during_a_study_ends_the_trial_and_hands_the_study_over(
        start_worker: Callable[..., Any], alice: Any, wait_for: Callable[..., Any]) -> None:
    from webapp.experiments.services import studies
    from webapp.experiments.services.optuna_storage import load_study

    prefix = _own_queues("studystop")
    settings = {"problem": "tabular", "dataset": "digits_table", "trials": 6, "min_epochs": 1, "max_epochs": 20,
                "pruner": "none", "sampler": "tpe", "seed": 0}
    with override_settings(NASBOARD_QUEUE_PREFIX=prefix, NASBOARD_STUDY_TASKS=1):
        exp = studies.create_study(alice, settings, name="stopped study")
    first = start_worker("study-stopping", prefix)

    def running() -> list[Any]:
        return [t for t in load_study(exp).get_trials(deepcopy=False) if t.state.name == "RUNNING"]

    stopped = wait_for(running, 120, "a trial to run", interval=0.05)[0]
    first.terminate()
    asked = time.time()
    first.proc.wait(timeout=30)
    exited_after = time.time() - asked
    assert first.proc.returncode == 0 and "'handed over'" in first.log(), first.log()[-3000:]
    trials = {t.number: t for t in load_study(exp).get_trials(deepcopy=False)}
    assert trials[stopped.number].state.name in ("PRUNED", "COMPLETE")  # ended, not left running nor failed
    assert not running()
    start_worker("study-next", prefix)
    exp = wait_for(lambda: ended(exp.pk), 300, "the study to end on the next worker")
    assert exp.status == Status.FINISHED, exp.error
    trials_after = load_study(exp).get_trials(deepcopy=False)
    assert len(studies.counted_trials(trials_after)) == 6 and exp.epochs_done == 6
    assert not [t for t in trials_after if t.state.name == "FAIL"]
    _figure("study: sigterm -> worker exited (s)", exited_after)
    print(f"FIGURE study: the stopped trial ended {trials[stopped.number].state.name}")


@pytest.mark.timeout(900)
def test_four_runs_on_two_workers_with_fifty_live_pages_and_the_api_fuzz(
        start_worker: Callable[..., Any], alice: Any, bob: Any, make_user: Callable[..., Any], tiny_config: dict[str, Any],
        wait_for: Callable[..., Any], tmp_path: Any) -> None:
    """Load rather than a fault, on the production server (uvicorn, two processes): four runs at once on two workers,
    fifty live pages (half listening to the event stream, half polling the events API, the page's fallback) and the
    API fuzz sending requests all along as a third user. No answer is a 5xx, and every page receives its run's every
    event once, in order. The fuzz's user may start no run (the run limit is 0 on this server), so that only the
    four runs load the workers; every other request is sent, its ids mapped onto the four runs (not its own: 404)
    and onto ids that do not exist."""
    from tests.webapp.asgi_support import AsgiServer
    from tests.webapp.fault_support import EventPoller, StreamPage
    from tests.webapp.fuzz_support import ApiFuzzer
    from webapp.experiments.models import ApiToken

    server = AsgiServer(tmp_path / "uvicorn.log", workers=2, NASBOARD_MAX_CONCURRENT_RUNS="0").start(timeout=120)
    prefix = _own_queues("load")
    pages: list[Any] = []
    fuzzer = None
    try:
        start_worker("load-a", prefix)
        start_worker("load-b", prefix)
        carol = make_user("carol")
        keys = {user.pk: ApiToken.issue(user)[1] for user in (alice, bob, carol)}
        with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
            runs = [services.create_experiment(user, f"load {i}", {**tiny_config, "epochs": 2, "seed": i})
                    for i, user in enumerate((alice, alice, bob, bob))]
        ids = [run.pk for run in runs] + [max(run.pk for run in runs) + 1000]

        def other_users_runs(case: Any) -> None:
            if isinstance((case.path_parameters or {}).get("id"), int):
                case.path_parameters["id"] = ids[case.path_parameters["id"] % len(ids)]

        fuzzer = ApiFuzzer(server.url, keys[carol.pk], prepare=other_users_runs)
        fuzzer.start()
        for i in range(50):
            run = runs[i % 4]
            page = (StreamPage if i % 2 else EventPoller)(server.url, run.pk, keys[run.owner_id])
            page.start()
            pages.append(page)
        for run in runs:
            done = wait_for(lambda pk=run.pk: ended(pk), 600, f"run {run.name!r} to end")
            assert done.status == Status.FINISHED, done.error
        for page in pages:
            wait_for(lambda p=page: p.events and p.events[-1]["type"] == "finished", 120, "every page to see the end")
    finally:
        if fuzzer is not None:
            fuzzer.stop()
        for page in pages:
            page.stop()
        server.stop()
    assert "Traceback" not in server.log(), server.log()[-3000:]
    expected = {run.pk: [e.seq for e in assert_whole_history(run.pk, 2)] for run in runs}
    for i, page in enumerate(pages):
        assert [e["seq"] for e in page.events] == expected[runs[i % 4].pk], type(page).__name__
        assert not page.server_errors, page.server_errors
    assert not fuzzer.server_errors, fuzzer.server_errors[:5]
    assert not fuzzer.failures, fuzzer.failures[:5]
    operations = {operation for operation, _ in fuzzer.statuses}
    assert len(operations) >= 15, operations  # it went round the whole API, not one endpoint
    assert any(200 <= status < 300 for _, status in fuzzer.statuses)
    assert not Experiment.objects.filter(owner=carol).exists()  # the run limit held: nothing of the fuzz ran
    _figure("pages", len(pages))
    _figure("streamed pages", sum(isinstance(p, StreamPage) for p in pages))
    _figure("failed polls or streams in all", sum(len(p.errors) for p in pages))
    _figure("fuzz requests", len(fuzzer.statuses))
    _figure("fuzz operations", len(operations))
