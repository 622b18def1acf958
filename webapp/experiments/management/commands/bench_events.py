"""`python manage.py bench_events`: how fast the live events endpoint answers, and how late events reach a browser.

It stores a DARTS experiment with 100 epochs of history (both cell types) through the same sink a worker uses,
starts the web server (uvicorn on ``webapp.asgi``, as `make run` does) and, while a writer keeps appending epochs,
measures each goal under its own conditions, one after the other:

1. drawing (``--browser``): the live page opened ``--loads`` times with nothing else open, the time until its
   history is on screen (median and the first opening, which compiles Plotly), split into scripts, events
   requests, applying and drawing (the page's own performance marks);
2. polling: 20 pollers behave like open live pages on the fallback path (``events?after=SEQ`` every second), in a
   process of their own;
3. push: 100 clients listen to ``/stream`` (Server-Sent Events) and report each event's delay from its emission to
   its arrival, any lost, repeated or failed message counted as an error; with ``--browser`` a headless Chromium
   page opens the live page among them (its opening timed) and reports the delay from emission to drawn.

``--client N`` times the endpoint alone with Django's test client. Everything it made is deleted.
"""
from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from webapp.experiments.management.bench_browser import LivePageBrowser, describe_openings
from webapp.experiments.management.bench_pollers import fetch_events, poll_in_a_process
from webapp.experiments.management.bench_streams import StreamListeners, percentile
from webapp.experiments.management.server import default_workers, server_command
from webapp.experiments.models import ApiToken, Experiment, Status
from webapp.experiments.services import runs

#: how long the web server may take to answer its first request (its workers import Django, torch and the engine)
SERVER_START_SECONDS = 120
#: the benchmark's own user (deleted afterwards), whom the browser logs in as
BENCH_USER, BENCH_PASSWORD = "nasboard-bench", "bench-password-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



class History:
    """Synthetic but shape-true DARTS events: steps, epoch metrics, arch (normal+reduce), genotype, checkpoint."""

    def __init__(self, experiment_id: int, epochs: int, steps_per_epoch: int = 50, step_log_every: int = 10):
        from nascore.spaces import get_space

        self.space = get_space("darts")
        self.sink = runs.DatabaseSink(experiment_id)
        self.seq = 0
        self.epochs = epochs
        self.steps = steps_per_epoch
        self.every = step_log_every
        self.rng = random.Random(0)

    def emit(self, event: dict[str, Any]) -> None:
        self.seq += 1
        self.sink(self.seq, {**event, "v": 1, "time": time.time()})

    def start(self) -> None:
        self.emit({"type": "run_started", "config": {"space": "darts"}, "versions": {}, "device": "cpu", "epochs": self.epochs,
                   "steps_per_epoch": self.steps, "start_epoch": 0, "resumed": False})

    def cells(self) -> dict[str, Any]:
        out = {}
        for ct in self.space.cell_types:
            edges = self.space.edge_labels(ct)
            rows = []
            for _ in edges:
                raw = [self.rng.random() for _ in self.space.ops]
                rows.append([round(v / sum(raw), 6) for v in raw])
            out[ct] = {"edges": edges, "ops": list(self.space.ops), "weights": rows}
        return out

    def epoch(self, epoch: int) -> None:
        for step in range(1, self.steps + 1):
            if step % self.every == 0 or step == 1:
                self.emit({"type": "step", "epoch": epoch, "step": step, "steps_per_epoch": self.steps,
                           "train_loss": 2.0 / epoch, "train_acc": 1 - 1 / (epoch + 1)})
        self.emit({"type": "epoch", "epoch": epoch, "epochs": self.epochs, "train_loss": 2.0 / epoch, "train_acc": 1 - 1 / (epoch + 1),
                   "val_loss": 2.1 / epoch, "val_acc": 1 - 1.1 / (epoch + 1.1), "lr": 0.025, "seconds": 30.0})
        self.emit({"type": "arch", "epoch": epoch, "kind": "softmax", "cells": self.cells()})
        ops = [op for op in self.space.ops if op != "none"]
        geno = {ct: [[self.rng.choice(ops), self.rng.randrange(0, k // 2 + 2)] for k in range(8)] for ct in ("normal", "reduce")}
        self.emit({"type": "genotype", "epoch": epoch, "genotype": {**geno, "normal_concat": [2, 3, 4, 5], "reduce_concat": [2, 3, 4, 5]}})
        self.emit({"type": "checkpoint", "epoch": epoch, "path": "/tmp/checkpoint.pt"})


class Command(BaseCommand):
    help = "Measure the events endpoint (median/p95 with N pollers on 100 DARTS epochs) and, with --browser, emit-to-screen delay."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pollers", type=int, default=20)
        parser.add_argument("--epochs", type=int, default=100)
        parser.add_argument("--seconds", type=float, default=20.0, help="how long the pollers poll")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between one poller's polls (the page's period)")
        parser.add_argument("--in-step", action="store_true",
                            help="start the pollers together, so that they poll at the same moments (the worst case; by "
                                 "default each starts at a random point of its period, as pages opened at different moments)")
        parser.add_argument("--live-every", type=float, default=1.0, help="seconds between live epochs the writer appends")
        parser.add_argument("--browser", action="store_true", help="also open the page in headless Chromium")
        parser.add_argument("--client", type=int, default=0, metavar="N",
                            help="only time N requests of each kind with Django's test client (the endpoint's own "
                                 "server time and queries, no web server, pollers or browser)")
        parser.add_argument("--loads", type=int, default=5, help="with --browser: how many times the page is opened "
                                                                 "to time drawing the history (the median is reported)")
        parser.add_argument("--streams", type=int, default=100, help="live SSE clients on /stream (0: none)")
        parser.add_argument("--web-workers", type=int, default=None,
                            help="web server processes (default: as make run, NASBOARD_WEB_WORKERS or per core)")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=BENCH_USER)
        user.set_password(BENCH_PASSWORD)
        user.save()
        _, token = ApiToken.issue(user, "bench")
        exp = Experiment.objects.create(owner=user, name="bench", config={"space": "darts"}, space="darts", optimizer="darts",
                                        dataset="cifar10", seed=0, device_requested="cpu", queue="none", status=Status.RUNNING,
                                        epochs=options["epochs"] + 1000)
        port = _free_port()
        server = None
        stop = threading.Event()  # ends the pollers and the writer, also when the measurement fails
        threads: list[threading.Thread] = []
        try:
            history = History(exp.pk, options["epochs"] + 1000)
            t0 = time.time()
            history.start()
            for epoch in range(1, options["epochs"] + 1):
                history.epoch(epoch)
            self.stdout.write(f"stored {history.seq} events for {options['epochs']} epochs in {time.time() - t0:.1f}s "
                              f"({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})")
            if options["client"]:
                self._client_times(exp.pk, token, history.seq, options["client"])
                return
            # the web server's log (its tracebacks explain any failed poll), kept only when a poll failed
            server_log = tempfile.NamedTemporaryFile("w+", prefix="bench_events-server-", suffix=".log", delete=False)
            workers = options["web_workers"] or default_workers()
            server = subprocess.Popen(server_command("127.0.0.1", port, workers), cwd=settings.BASE_DIR,
                                      stdout=subprocess.DEVNULL, stderr=server_log)
            base = f"http://127.0.0.1:{port}"
            self._wait_up(base, server_log.name)
            url = f"{base}/api/experiments/{exp.pk}/events"
            headers = {"Authorization": f"Bearer {token}"}

            # the whole history, as a page opening does (in pages of NASBOARD_EVENTS_PAGE)
            full, after, pages = 0.0, 0, 0
            while True:
                took, body = fetch_events(url, headers, after)
                full += took
                pages += 1
                after = body["last_seq"]
                if not body["more"]:
                    break
            self.stdout.write(f"loading the whole history: {pages} requests, {full * 1000:.0f} ms")

            def writer() -> None:
                epoch = options["epochs"]
                while not stop.wait(options["live_every"]):
                    epoch += 1
                    history.epoch(epoch)
                close_old_connections()

            threads.append(threading.Thread(target=writer))
            threads[-1].start()
            # each goal under its own conditions, one after the other, with the run going on throughout; the
            # openings first, while the history is still about --epochs long
            browser = (LivePageBrowser(base, BENCH_USER, BENCH_PASSWORD) if options["browser"]
                       else contextlib.nullcontext())
            with browser:
                if options["browser"]:
                    loads = browser.time_openings(f"/experiments/{exp.pk}/", options["loads"])
                    self.stdout.write(describe_openings(f"history drawn (navigation start to the whole history on "
                                                        f"screen, {options['epochs']}+ epochs), nothing else open", loads))
                if options["pollers"]:
                    self._pollers(url, token, history.seq, options, server_log.name)
                else:
                    os.unlink(server_log.name)
                self._push(base, exp.pk, headers, history, options, browser)
                if options["browser"]:
                    self.stdout.write(f"console errors: {browser.errors or 'none'}")
        finally:
            stop.set()  # no write may outlive the experiment it writes to
            for t in threads:
                if t.is_alive():
                    t.join()
            if server is not None:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=10)
            exp.delete()
            user.delete()

    def _pollers(self, url: str, token: str, after: int, options: dict[str, Any], server_log: str) -> None:
        """``--pollers`` live pages polling ``events?after=SEQ`` every ``--interval`` s, alone for ``--seconds``, in
        a process of their own (bench_pollers.py)."""
        incremental, errors = poll_in_a_process(url, token, after, options["pollers"], options["interval"],
                                                options["seconds"], options["in_step"])
        ms = [v * 1000 for v in incremental] or [float("nan")]
        self.stdout.write(
            f"events?after=SEQ with {options['pollers']} pollers (every {options['interval']}s, "
            f"{'in step' if options['in_step'] else 'out of step'}), nothing else open: "
            f"{len(incremental)} requests, median {statistics.median(ms):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
            f"max {max(ms):.1f} ms, errors {len(errors)}"
            + (f" (first: {sorted(set(errors))[:3]}; the server's log: {server_log})" if errors else ""))
        if not errors:
            os.unlink(server_log)

    def _push(self, base: str, pk: int, headers: dict[str, str], history: History, options: dict[str, Any],
              browser: Any) -> None:
        """``--streams`` clients on ``/stream`` and, with ``--browser``, the live page itself (opened while they
        listen, its opening timed), for ``--seconds``."""
        listeners = StreamListeners(base, pk, headers, history.seq, options["streams"])
        listeners.open()
        try:
            if options["browser"]:
                page, opening = browser.open(f"/experiments/{pk}/")
                page.wait_for_timeout(options["seconds"] * 1000)
                figures = browser.live_figures(page)
                page.close()
            else:
                time.sleep(options["seconds"])
        finally:
            listeners.close(history.seq)
        if options["streams"]:
            self.stdout.write(listeners.report())
        if options["browser"]:
            lat = figures["latencies"]
            how = ("pushed: the page listened to /stream" if figures["streams"] and not figures["failures"]
                   else f"polled every {settings.NASBOARD_POLL_MS} ms")
            beside = f"beside {options['streams']} stream clients" if options["streams"] else "alone"
            if lat:
                self.stdout.write(f"emit-to-browser delay ({how}, {beside}): {len(lat)} events, "
                                  f"median {statistics.median(lat) * 1000:.0f} ms, p95 {percentile(lat, 0.95) * 1000:.0f} ms, "
                                  f"max {max(lat) * 1000:.0f} ms")
            else:
                self.stdout.write(f"emit-to-browser delay ({how}, {beside}): no event reached the page")
            self.stdout.write(describe_openings(f"history drawn {beside}", [opening]))

    def _client_times(self, pk: int, token: str, last: int, n: int) -> None:
        """Server time of one events request, in process (no HTTP): a page of the history, a poll with one new event
        and an empty poll, each ``n`` times, with the queries each makes."""
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", SERVER_NAME="127.0.0.1")
        url = f"/api/experiments/{pk}/events"
        for label, after in (("a page of the history (after=0)", 0), ("a poll with 1 new event", last - 1),
                             ("an empty poll", last)):
            client.get(url, {"after": after})  # warm, and the token's use stamped
            took = []
            for _ in range(n):
                start = time.perf_counter()
                response = client.get(url, {"after": after})
                took.append((time.perf_counter() - start) * 1000)
            with CaptureQueriesContext(connection) as queries:
                client.get(url, {"after": after})
            self.stdout.write(f"{label}: median {statistics.median(took):.1f} ms, p95 {percentile(took, 0.95):.1f} ms over {n} "
                              f"requests; {len(queries)} queries, {len(response.content)} bytes")

    def _wait_up(self, base: str, log_path: str) -> None:
        """Waits for the server's first answer; a busy 2-core machine can take a minute to import its workers."""
        deadline = time.time() + SERVER_START_SECONDS
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{base}/api/openapi.json", timeout=5).read()
                return
            except Exception:
                time.sleep(0.2)
        tail = "".join(Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines(True)[-15:])
        raise CommandError(f"the web server did not answer within {SERVER_START_SECONDS} s; its log ({log_path}) ends:\n{tail}")
