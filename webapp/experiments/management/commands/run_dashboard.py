"""`python manage.py run_dashboard`: what `make run` starts: migrations, a demo user, workers, the web server
(uvicorn on the ASGI app, several processes: ``webapp.experiments.management.server``).

Without DATABASE_URL / REDIS_URL it runs on SQLite and kombu's filesystem broker, so a
fresh machine needs no server; with them it uses PostgreSQL and Redis.
"""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webapp.experiments.management.children import kill_after, on_stop_signals, terminate_running
from webapp.experiments.management.server import default_workers, server_command


class Command(BaseCommand):
    help = "Migrate, create the demo user, start the workers and the web server, print the URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="only the web server")
        parser.add_argument("--web-workers", type=int, default=None,
                            help="web server processes (default: NASBOARD_WEB_WORKERS, else one per core, 2 to 4)")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        try:
            command = server_command(host, port, options["web_workers"] or default_workers())
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror}); pass --port or stop what uses it") from None
        call_command("migrate", interactive=False, verbosity=0)
        settings.NASBOARD_ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
        settings.NASBOARD_DATA_DIR.mkdir(parents=True, exist_ok=True)
        db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = "redis" if settings.REDIS_URL else "filesystem (no server needed)"
        procs: list[subprocess.Popen[bytes]] = []
        if not options["no_worker"]:
            procs.append(subprocess.Popen([sys.executable, "manage.py", "start_workers", "--cpu-workers", "1"], cwd=settings.BASE_DIR))
        procs.append(subprocess.Popen(command, cwd=settings.BASE_DIR))
        self.stdout.write("")
        self.stdout.write("NASBoard is starting")
        self.stdout.write(f"  database: {db}   broker: {broker}")
        call_command("demo_user", stdout=self.stdout)
        self.stdout.write(f"  open http://{host}:{port}/   (Ctrl-C stops the server and the workers)")
        self.stdout.write("")

        # Ctrl-C (or SIGTERM): the workers hand their running searches back to the queue at the next step, with
        # their checkpoints, and exit; whatever still runs after the grace period is killed.
        deadline: float | None = None

        def stop(signum: int, _frame: Any) -> None:
            nonlocal deadline
            if deadline is not None:
                return
            deadline = time.monotonic() + settings.NASBOARD_STOP_GRACE_SECONDS + 10
            self.stdout.write("stopping: running searches go back to the queue at their next step")
            terminate_running(procs)

        on_stop_signals(stop)
        while True:
            if deadline is None and any(p.poll() is not None for p in procs):
                stop(signal.SIGTERM, None)  # one part died: stop the rest rather than half-run
            if deadline is not None and kill_after(procs, deadline):
                break
            time.sleep(0.5)
        self.stdout.write("NASBoard stopped")
